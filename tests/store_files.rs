//! What the store does with files it must not use: another application's
//! database, a damaged file, a newer schema, a database another hub holds, a
//! directory it cannot write. Each is refused with a clear error and the
//! file is left byte for byte as it was. Plus the operator's `homebus db`.

mod support;

use std::path::{Path, PathBuf};
use std::process::Output;

use homebus::store::{Store, StoreError, StoreOptions};
use support::cli::{failed, homebus, succeeded};
use support::config::{LOOPBACK_SERVER, write};
use support::store::{StoredHub, temp_db};

fn open(db: &Path) -> Result<Store, StoreError> {
    Store::open(db, StoreOptions::default())
}

/// A config naming `db`, written to `dir/homebus.toml`.
fn config_naming(dir: &Path, db: &Path) -> PathBuf {
    write(
        dir,
        &format!("{LOOPBACK_SERVER}database = \"{}\"\n", db.display()),
    )
}

/// Runs the real binary with a config naming `db`.
fn run_homebus(dir: &Path, db: &Path, args: &[&str]) -> Output {
    let config = config_naming(dir, db);
    homebus(args)
        .arg("-c")
        .arg(&config)
        .current_dir(dir)
        .output()
        .expect("the homebus binary runs")
}

#[test]
fn a_file_that_is_not_sqlite_is_refused_and_left_untouched() {
    let (_dir, db) = temp_db();
    let bytes = b"temperature=21\nhumidity=40\n".repeat(100);
    std::fs::write(&db, &bytes).unwrap();
    let error = open(&db).unwrap_err();
    assert!(matches!(error, StoreError::NotSqlite { .. }), "{error:?}");
    let text = error.to_string();
    assert!(
        text.contains("homebus.db") && text.contains("is not a SQLite database"),
        "{text}"
    );
    assert_eq!(std::fs::read(&db).unwrap(), bytes);
}

#[test]
fn another_applications_database_is_refused_and_left_untouched() {
    let (_dir, db) = temp_db();
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute_batch("CREATE TABLE photos (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO photos (name) VALUES ('cat');")
            .unwrap();
    }
    let bytes = std::fs::read(&db).unwrap();
    let error = open(&db).unwrap_err();
    assert!(matches!(error, StoreError::Foreign { .. }), "{error:?}");
    assert!(error.to_string().contains("another application"), "{error}");
    assert_eq!(std::fs::read(&db).unwrap(), bytes);
}

#[test]
fn a_damaged_database_is_refused_and_left_untouched() {
    let (_dir, db) = temp_db();
    // The SQLite header, then garbage where the schema should be.
    let mut bytes = b"SQLite format 3\0".to_vec();
    bytes.extend((0..8192u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
    std::fs::write(&db, &bytes).unwrap();
    let error = open(&db).unwrap_err();
    assert!(matches!(error, StoreError::Corrupt { .. }), "{error:?}");
    assert!(error.to_string().contains("may be damaged"), "{error}");
    assert_eq!(std::fs::read(&db).unwrap(), bytes);
}

#[test]
fn a_database_from_a_newer_homebus_is_refused_and_left_untouched() {
    let (_dir, db) = temp_db();
    StoredHub::open(&db, "").close();
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
        conn.pragma_update(None, "journal_mode", "DELETE").unwrap();
    }
    let bytes = std::fs::read(&db).unwrap();
    let error = open(&db).unwrap_err();
    assert!(
        matches!(error, StoreError::TooNew { found: 99, .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("newer homebus"), "{error}");
    assert_eq!(std::fs::read(&db).unwrap(), bytes);
}

#[test]
fn a_second_store_on_the_same_file_is_refused() {
    let (_dir, db) = temp_db();
    let _first = open(&db).unwrap();
    let error = open(&db).unwrap_err();
    assert!(matches!(error, StoreError::Locked { .. }), "{error:?}");
    assert!(
        error.to_string().contains("in use by another homebus"),
        "{error}"
    );
}

#[test]
fn the_lock_is_released_when_the_store_closes() {
    let (_dir, db) = temp_db();
    drop(open(&db).unwrap());
    assert!(open(&db).is_ok());
}

#[test]
fn a_second_hub_on_the_same_file_fails_at_start_with_a_clear_message() {
    let (dir, db) = temp_db();
    let _running = open(&db).unwrap();
    let output = run_homebus(dir.path(), &db, &["run"]);
    let stderr = failed(&output);
    assert!(stderr.contains("is in use by another homebus"), "{stderr}");
}

#[test]
fn a_read_only_directory_fails_at_start_with_a_clear_message() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let db = data.join("homebus.db");
    let config = config_naming(dir.path(), &db);
    for path in [dir.path(), &data] {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o555)).unwrap();
    }
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o444)).unwrap();
    let mut command = homebus(["run", "-c"]);
    command.arg(&config).current_dir(dir.path());
    // root writes anywhere; run as `nobody` so the permissions apply.
    if std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(&config).unwrap()) == 0 {
        command.uid(65534).gid(65534);
    }
    let output = command.output().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    let stderr = failed(&output);
    assert!(
        stderr.contains("homebus.db.lock") && stderr.contains("write access"),
        "{stderr}"
    );
    assert!(!db.exists());
}

#[test]
fn db_stats_reports_rows_seq_range_and_oldest_event() {
    let (dir, db) = temp_db();
    let hub = StoredHub::open(&db, "[[unit]]\naddress = \"LAMP\"\nkind = \"dimmer\"\n");
    for n in 1..=5 {
        hub.event("LAMP", Some(&n.to_string()));
    }
    hub.flush();
    // Stats read the database while the hub holds it.
    let output = run_homebus(dir.path(), &db, &["db", "stats"]);
    hub.close();
    let stdout = succeeded(&output);
    assert!(stdout.contains("events          5\n"), "{stdout}");
    assert!(stdout.contains("seq range       1 … 5\n"), "{stdout}");
    assert!(stdout.contains("units           1\n"), "{stdout}");
    assert!(stdout.contains("oldest event    20"), "{stdout}");
}

#[test]
fn db_vacuum_refuses_while_a_hub_runs_and_works_after() {
    let (dir, db) = temp_db();
    let hub = StoredHub::open(&db, "");
    let refused = run_homebus(dir.path(), &db, &["db", "vacuum"]);
    let stderr = failed(&refused);
    assert!(stderr.contains("in use by another homebus"), "{stderr}");
    hub.close();
    let done = run_homebus(dir.path(), &db, &["db", "vacuum"]);
    let stdout = succeeded(&done);
    assert!(stdout.starts_with("vacuumed "), "{stdout}");
}
