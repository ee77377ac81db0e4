//! How the config reads scripts: file or code, and where a syntax error is
//! reported.

use std::path::Path;

use proptest::prelude::*;

use super::ScriptOrigin;
use crate::config::{Config, ConfigError, parse_str};

fn load_in(dir: &Path, text: &str) -> Result<Config, Vec<ConfigError>> {
    parse_str(text, &dir.join("homebus.toml")).map_err(|e| e.0)
}

#[test]
fn a_value_ending_in_rhai_is_a_file_next_to_the_config_and_the_rest_is_code() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("scripts")).unwrap();
    std::fs::write(dir.path().join("scripts/on.rhai"), "unit(\"HALL\").on();\n").unwrap();
    let config = load_in(
        dir.path(),
        "[[unit]]\naddress = \"MOTION\"\nkind = \"switch\"\non_script = \"scripts/on.rhai\"\n\
         off_script = 'unit(\"HALL\").off()'\n",
    )
    .expect("loads");
    let scripts = &config.units[0].scripts;
    let on = scripts.on.as_ref().unwrap();
    assert_eq!(&*on.code, "unit(\"HALL\").on();\n");
    assert_eq!(
        on.origin,
        ScriptOrigin::File(dir.path().join("scripts/on.rhai"))
    );
    let off = scripts.off.as_ref().unwrap();
    assert_eq!(&*off.code, "unit(\"HALL\").off()");
    assert!(matches!(off.origin, ScriptOrigin::Inline { .. }));
}

#[test]
fn a_syntax_error_in_a_script_file_is_reported_at_the_files_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("bad.rhai");
    std::fs::write(&script, "let a = 1;\nlet b = ;\n").unwrap();
    let errors = load_in(
        dir.path(),
        "[[source]]\nname = \"cam\"\ntype = \"sse\"\nurl = \"http://127.0.0.1:1/\"\non_error = \"bad.rhai\"\n",
    )
    .expect_err("refused");
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert_eq!(errors[0].file, script);
    assert_eq!((errors[0].line, errors[0].column), (2, 9));
    assert!(
        errors[0].message.contains("`on_error` of [[source]] `cam`"),
        "{}",
        errors[0].message
    );
}

#[test]
fn a_syntax_error_in_inline_code_is_reported_in_the_config_at_the_codes_place() {
    let dir = tempfile::tempdir().unwrap();
    let text = "[[unit]]\naddress = \"A\"\nkind = \"switch\"\non_script = '''\nlog(\"x\");\n  let = 2;\n'''\n";
    let errors = load_in(dir.path(), text).expect_err("refused");
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert_eq!(errors[0].file, dir.path().join("homebus.toml"));
    // `let = 2;` is line 6 of the file; Rhai points at the `=`.
    assert_eq!((errors[0].line, errors[0].column), (6, 7));
}

#[test]
fn a_missing_script_file_is_reported_at_the_config_value() {
    let dir = tempfile::tempdir().unwrap();
    let errors = load_in(
        dir.path(),
        "[[unit]]\naddress = \"A\"\nkind = \"switch\"\non_script = \"gone.rhai\"\n",
    )
    .expect_err("refused");
    assert_eq!((errors[0].line, errors[0].column), (4, 13));
    assert!(errors[0].message.contains("cannot read the script file"));
}

#[test]
fn eval_is_refused_when_the_config_is_checked() {
    let dir = tempfile::tempdir().unwrap();
    let errors = load_in(
        dir.path(),
        "[[unit]]\naddress = \"A\"\nkind = \"switch\"\non_script = 'eval(\"1\")'\n",
    )
    .expect_err("refused");
    assert_eq!(errors.len(), 1, "{errors:#?}");
}

#[test]
fn scripts_limits_are_read_and_default_when_absent() {
    let dir = tempfile::tempdir().unwrap();
    let config = load_in(
        dir.path(),
        "[scripts]\nmax_operations = 500\nmax_run_time = \"50ms\"\n",
    )
    .expect("loads");
    assert_eq!(config.scripts.max_operations, 500);
    assert_eq!(
        config.scripts.max_run_time,
        std::time::Duration::from_millis(50)
    );
    assert_eq!(config.scripts.max_call_depth, 32);
    let errors = load_in(dir.path(), "[scripts]\nmax_operation = 5\n").expect_err("refused");
    assert!(errors[0].message.contains("did you mean `max_operations`"));
}

proptest! {
    #[test]
    fn any_script_text_is_checked_without_panicking(code in "\\PC{0,200}") {
        let dir = std::env::temp_dir();
        let quoted = toml::Value::String(code).to_string();
        let text = format!("[[unit]]\naddress = \"A\"\nkind = \"switch\"\non_script = {quoted}\n");
        let _ = load_in(&dir, &text);
    }

    #[test]
    fn any_rhai_like_text_is_checked_without_panicking(
        code in "[a-z(){}\\[\\];=+\"'#.:,|0-9 \n]{0,120}"
    ) {
        let dir = std::env::temp_dir();
        let text = format!("[[unit]]\naddress = \"A\"\nkind = \"switch\"\non_script = '''\n{code}'''\n");
        let _ = load_in(&dir, &text);
    }
}
