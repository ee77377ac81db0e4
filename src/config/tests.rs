//! What the loader accepts and how it words each kind of mistake.

use std::path::Path;
use std::time::Duration;

use super::{Config, ConfigError, UnitKind, parse_str_with_env};
use crate::format::FormatKind;
use crate::sources::{
    Credentials, DEFAULT_FETCH_INTERVAL, DEFAULT_FILE_INTERVAL, FetchConfig, FileConfig,
    HttpRequest, Method, SourceConfig, SourceKind,
};

const FILE: &str = "/etc/homebus/homebus.toml";

fn no_env(_: &str) -> Option<String> {
    None
}

fn load(text: &str) -> Result<Config, Vec<ConfigError>> {
    parse_str_with_env(text, Path::new(FILE), &no_env).map_err(|e| e.0)
}

fn load_with(text: &str, vars: &[(&str, &str)]) -> Result<Config, Vec<ConfigError>> {
    let lookup = |name: &str| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
    };
    parse_str_with_env(text, Path::new(FILE), &lookup).map_err(|e| e.0)
}

/// The only error of a config expected to have exactly one.
fn only_error(text: &str) -> ConfigError {
    let errors = load(text).expect_err("the config should be refused");
    assert_eq!(errors.len(), 1, "expected one error, got {errors:#?}");
    errors.into_iter().next().unwrap()
}

fn at(error: &ConfigError) -> (usize, usize) {
    (error.line, error.column)
}

/// The request of an `sse` or `fetch` source.
fn request(source: &SourceConfig) -> &HttpRequest {
    match &source.kind {
        SourceKind::Sse(c) => &c.request,
        SourceKind::Fetch(c) => &c.request,
        other => panic!("not an HTTP source: {other:?}"),
    }
}

fn fetch(source: &SourceConfig) -> &FetchConfig {
    match &source.kind {
        SourceKind::Fetch(c) => c,
        other => panic!("not a fetch source: {other:?}"),
    }
}

fn file(source: &SourceConfig) -> &FileConfig {
    match &source.kind {
        SourceKind::File(c) => c,
        other => panic!("not a file source: {other:?}"),
    }
}

#[test]
fn empty_file_gives_the_defaults() {
    let config = load("").unwrap();
    assert_eq!(config.server.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(config.server.websocket_port, 8088);
    assert!(config.auth.is_none());
    assert!(config.sources.is_empty() && config.units.is_empty());
}

#[test]
fn full_design_example_is_accepted() {
    let text = r#"
[server]
listen = "127.0.0.1:8080"     # HTTP: REST, SSE, /ws, dashboard
websocket_port = 8088          # deCONZ-style push port; 0 = any free port
database = "homebus.db"        # SQLite file; ":memory:" for none
history_retention = "7d"

[auth]                          # absent = open on loopback only
api_keys = ["env:HOMEBUS_API_KEY"]   # "env:NAME" reads an environment variable
jwt_secret = "env:HOMEBUS_JWT_SECRET" # HS256 tokens for ?token=

[[source]]
name = "camera"
type = "sse"                    # sse | websocket | fetch | file | mqtt
url = "https://cam.local/events?x=1"
method = "GET"                  # POST with body allowed
headers = { Authorization = "env:CAM_AUTH" }   # any value may be "env:NAME"
events = ["Motion", "Brightness"]   # whitelist; absent = all
reconnect = "1s"                # retry delay; server `retry:` wins (see Reconnection)
format = "xtension"
create_units = false

[[source]]
name = "weather"
type = "fetch"
url = "http://127.0.0.1:8080/"
interval = "5s"
events = ["temperature"]

[[unit]]
address = "MOTION"
entity_id = "binary_sensor.motion"   # default: <domain>.<address lower-cased, non-alphanumerics as _>,
                                     # domain switch/light/sensor for kind switch/dimmer/sensor
kind = "switch"
name = "Hall motion"
"#;
    let config = load_with(
        text,
        &[
            ("HOMEBUS_API_KEY", "key-1"),
            ("HOMEBUS_JWT_SECRET", "jwt-secret"),
            ("CAM_AUTH", "Basic abc"),
        ],
    )
    .unwrap();
    assert_eq!(config.server.database, "/etc/homebus/homebus.db");
    assert_eq!(
        config.server.history_retention,
        Duration::from_secs(7 * 86400)
    );
    let auth = config.auth.unwrap();
    assert_eq!(auth.api_keys[0].expose(), "key-1");
    assert_eq!(auth.jwt_secret.unwrap().expose(), "jwt-secret");
    let camera = &config.sources[0];
    assert_eq!(camera.kind.type_name(), "sse");
    assert_eq!(request(camera).url, "https://cam.local/events?x=1");
    assert_eq!(request(camera).headers["Authorization"], "Basic abc");
    assert_eq!(camera.format, FormatKind::Xtension);
    assert!(camera.accepts("motion"));
    let weather = &config.sources[1];
    assert_eq!(fetch(weather).interval, Duration::from_secs(5));
    assert_eq!(weather.format, FormatKind::Raw);
    assert_eq!(config.units[0].kind, UnitKind::Switch);
    assert_eq!(
        config.units[0].entity_id.as_deref(),
        Some("binary_sensor.motion")
    );
}

#[test]
fn byte_order_mark_and_crlf_line_ends_are_accepted() {
    let error = only_error("\u{feff}[server]\r\nkeepalive = 15\r\n");
    assert_eq!(at(&error), (2, 13));
}

#[test]
fn toml_syntax_error_is_reported_alone_with_its_position() {
    let error = only_error("[server]\nlisten = \n[[source]]\nnope = 1\n");
    assert_eq!(at(&error), (2, 10));
    assert!(error.message.starts_with("TOML syntax error"), "{error}");
}

#[test]
fn unknown_key_is_reported_with_line_and_column() {
    let text = "[[source]]\nname = \"weather\"\ntype = \"fetch\"\nurl = \"http://h/\"\nevents = [\"t\"]\n  intervall = \"5s\"\n";
    let error = only_error(text);
    assert_eq!(at(&error), (6, 3));
    assert_eq!(error.file, Path::new(FILE));
    assert!(
        error.message.starts_with(
            "unknown key `intervall` in [[source]] `weather`; did you mean `interval`?"
        ),
        "{error}"
    );
    assert!(
        error.message.contains("`timeout`"),
        "lists the keys a fetch source takes: {error}"
    );
}

#[test]
fn unknown_section_suggests_the_right_one() {
    let error = only_error("[[sources]]\nname = \"a\"\n");
    assert_eq!(at(&error), (1, 3));
    assert!(error.message.contains("did you mean `source`?"), "{error}");
}

#[test]
fn error_display_is_file_line_column_message() {
    let error = only_error("[server]\nkeepalive = \"soon\"\n");
    let shown = error.to_string();
    assert!(
        shown.starts_with(&format!(
            "{FILE}:2:13: `keepalive` in [server]: `soon` is not a duration"
        )),
        "{shown}"
    );
}

#[test]
fn every_error_in_the_file_is_reported_at_once() {
    let text = r#"[server]
listen = "localhost"
keepalive = 15

[[source]]
name = "cam"
type = "sse"
url = "ws://cam.local/"
colour = "red"

[[unit]]
address = "A"
kind = "lamp"
"#;
    let errors = load(text).unwrap_err();
    let positions: Vec<(usize, usize)> = errors.iter().map(at).collect();
    assert_eq!(
        positions,
        vec![(2, 10), (3, 13), (8, 7), (9, 1), (13, 8)],
        "{errors:#?}"
    );
}

#[test]
fn wrong_type_says_what_is_expected_and_what_was_found() {
    let error = only_error("[server]\nwebsocket_port = \"8088\"\n");
    assert_eq!(at(&error), (2, 18));
    assert_eq!(
        error.message,
        "`websocket_port` in [server] must be a whole number, not a string"
    );
}

#[test]
fn out_of_range_port_is_refused() {
    let error = only_error("[server]\nwebsocket_port = 70000\n");
    assert!(error.message.contains("between 0 and 65535"), "{error}");
}

#[test]
fn bare_number_as_duration_gets_a_hint_that_keeps_its_magnitude() {
    let error = only_error("[server]\nhistory_retention = 7\n");
    assert!(
        error.message.contains("`history_retention = \"7ms\"`"),
        "{error}"
    );
    let error = only_error(
        "[[source]]\nname = \"a\"\ntype = \"sse\"\nurl = \"http://h/\"\nreconnect = 5000\n",
    );
    assert_eq!(at(&error), (5, 13));
    assert!(
        error
            .message
            .contains("write e.g. `reconnect = \"5000ms\"`"),
        "{error}"
    );
    assert!(!error.message.contains("5000s"), "{error}");
}

#[test]
fn humantime_durations_are_read() {
    let text = "[server]\nkeepalive = \"500ms\"\nhistory_retention = \"7d\"\n";
    let config = load(text).unwrap();
    assert_eq!(config.server.keepalive, Duration::from_millis(500));
    assert_eq!(
        config.server.history_retention,
        Duration::from_secs(7 * 86400)
    );
}

#[test]
fn zero_reconnect_is_refused() {
    let text =
        "[[source]]\nname = \"a\"\ntype = \"sse\"\nurl = \"http://h/\"\nreconnect = \"0s\"\n";
    let error = only_error(text);
    assert_eq!(at(&error), (5, 13));
    assert!(error.message.contains("longer than zero"), "{error}");
}

#[test]
fn listen_must_be_a_socket_address() {
    let error = only_error("[server]\nlisten = \"8080\"\n");
    assert_eq!(at(&error), (2, 10));
    assert!(
        error.message.contains("`listen = \"127.0.0.1:8080\"`"),
        "{error}"
    );
}

#[test]
fn open_listen_without_auth_is_refused_unless_allowed() {
    let error = only_error("[server]\nlisten = \"0.0.0.0:8080\"\n");
    assert!(error.message.contains("allow_open = true"), "{error}");
    load("[server]\nlisten = \"0.0.0.0:8080\"\nallow_open = true\n").unwrap();
    load_with(
        "[server]\nlisten = \"0.0.0.0:8080\"\n[auth]\napi_keys = [\"env:K\"]\n",
        &[("K", "k")],
    )
    .unwrap();
}

#[test]
fn websocket_open_is_off_unless_set_and_must_be_a_boolean() {
    assert!(!load("").unwrap().server.websocket_open);
    assert!(
        load("[server]\nwebsocket_open = true\n")
            .unwrap()
            .server
            .websocket_open
    );
    let error = only_error("[server]\nwebsocket_open = \"yes\"\n");
    assert_eq!(at(&error), (2, 18));
    assert!(error.message.contains("`websocket_open`"), "{error}");
}

#[test]
fn websocket_port_may_not_be_the_listen_port() {
    let error = only_error("[server]\nlisten = \"127.0.0.1:9000\"\nwebsocket_port = 9000\n");
    assert_eq!(at(&error), (3, 18));
    let error = only_error("[server]\nwebsocket_port = 8080\n");
    assert!(
        error.message.contains("the port `listen` already uses"),
        "{error}"
    );
}

#[test]
fn env_value_reads_the_environment() {
    let text = "[auth]\napi_keys = [\"plain\", \"env:HOMEBUS_TEST_ENV_VALUE_KEY\"]\n";
    let config = load_with(text, &[("HOMEBUS_TEST_ENV_VALUE_KEY", "from-env")]).unwrap();
    let auth = config.auth.unwrap();
    let keys: Vec<&str> = auth.api_keys.iter().map(|k| k.expose()).collect();
    assert_eq!(keys, ["plain", "from-env"]);
}

#[test]
fn load_file_reads_env_values_from_the_process_environment() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("homebus.toml");
    // PATH is set in every environment a test runs in.
    std::fs::write(&path, "[auth]\njwt_secret = \"env:PATH\"\n").unwrap();
    let config = super::load_file(&path).unwrap();
    let expected = std::env::var("PATH").unwrap();
    assert_eq!(config.auth.unwrap().jwt_secret.unwrap().expose(), expected);
}

#[test]
fn unset_env_variable_is_reported_at_the_value() {
    let text = "[[source]]\nname = \"cam\"\ntype = \"sse\"\nurl = \"http://h/\"\nheaders = { Authorization = \"env:CAM_AUTH_UNSET\" }\n";
    let error = only_error(text);
    assert_eq!(at(&error), (5, 29));
    assert_eq!(
        error.message,
        "environment variable `CAM_AUTH_UNSET` (for `headers.Authorization` in [[source]] `cam`) \
         is not set; export it before starting homebus, or write the value itself"
    );
}

#[test]
fn secrets_never_appear_in_messages() {
    let text = "[auth]\napi_keys = \"hunter2\"\n";
    let error = only_error(text);
    assert!(!error.message.contains("hunter2"), "{error}");
    assert!(
        !format!(
            "{:?}",
            load_with("[auth]\njwt_secret = \"hunter2\"\n", &[]).unwrap()
        )
        .contains("hunter2")
    );
}

#[test]
fn empty_auth_is_refused() {
    let error = only_error("[auth]\n");
    assert_eq!(at(&error), (1, 1));
    assert!(error.message.contains("no client could connect"), "{error}");
}

#[test]
fn url_scheme_must_fit_the_source_type() {
    let cases = [
        ("sse", "ws://h/", "`http://` or `https://`"),
        ("fetch", "mqtt://h", "`http://` or `https://`"),
        ("websocket", "http://h/", "`ws://` or `wss://`"),
        (
            "mqtt",
            "https://h/",
            "`mqtt://`, `mqtts://`, `tcp://` or `ssl://`",
        ),
    ];
    for (kind, url, wanted) in cases {
        let text = format!(
            "[[source]]\nname = \"s\"\ntype = \"{kind}\"\nurl = \"{url}\"\nevents = [\"e\"]\ntopics = [\"t\"]\n"
        );
        let errors = load(&text).unwrap_err();
        let error = errors
            .iter()
            .find(|e| e.line == 4)
            .unwrap_or_else(|| panic!("{kind}: {errors:#?}"));
        assert!(error.message.contains(wanted), "{kind}: {error}");
    }
}

#[test]
fn each_source_type_accepts_its_own_schemes() {
    for (kind, url) in [
        ("sse", "https://h/events"),
        ("fetch", "http://h:8080/"),
        ("websocket", "wss://h/"),
        ("mqtt", "mqtts://broker:8883"),
        ("mqtt", "tcp://broker:1883"),
    ] {
        let text = format!(
            "[[source]]\nname = \"s\"\ntype = \"{kind}\"\nurl = \"{url}\"\nevents = [\"e\"]\n{}",
            if kind == "mqtt" {
                "topics = [\"home/#\"]\n"
            } else {
                ""
            }
        );
        let config = load(&text).unwrap_or_else(|e| panic!("{kind} {url}: {e:#?}"));
        assert_eq!(config.sources[0].kind.location(), url);
    }
}

#[test]
fn url_that_does_not_parse_is_refused() {
    let error = only_error("[[source]]\nname = \"s\"\ntype = \"sse\"\nurl = \"http://[::1\"\n");
    assert_eq!(at(&error), (4, 7));
    assert!(error.message.contains("is not a URL"), "{error}");
}

#[test]
fn relative_file_path_is_resolved_against_the_config_dir() {
    let config =
        load("[[source]]\nname = \"f\"\ntype = \"file\"\npath = \"data/events.txt\"\n").unwrap();
    assert_eq!(
        file(&config.sources[0]).path,
        Path::new("/etc/homebus/data/events.txt")
    );
}

#[test]
fn file_url_and_absolute_path_are_kept_as_absolute_paths() {
    for url in ["file:///var/lib/ev%20ents.txt", "/var/lib/ev ents.txt"] {
        let text = format!("[[source]]\nname = \"f\"\ntype = \"file\"\nurl = \"{url}\"\n");
        let config = load(&text).unwrap();
        assert_eq!(
            file(&config.sources[0]).path,
            Path::new("/var/lib/ev ents.txt")
        );
    }
}

#[test]
fn file_source_refuses_a_network_url() {
    let error = only_error("[[source]]\nname = \"f\"\ntype = \"file\"\nurl = \"http://h/x\"\n");
    assert!(error.message.contains("reads a local file"), "{error}");
}

#[test]
fn fetch_and_file_get_a_default_interval() {
    let text = "[[source]]\nname = \"w\"\ntype = \"fetch\"\nurl = \"http://h/\"\nevents = [\"t\"]\n\
                [[source]]\nname = \"f\"\ntype = \"file\"\nurl = \"x.txt\"\n";
    let config = load(text).unwrap();
    assert_eq!(fetch(&config.sources[0]).interval, DEFAULT_FETCH_INTERVAL);
    assert_eq!(fetch(&config.sources[0]).timeout, DEFAULT_FETCH_INTERVAL);
    assert_eq!(file(&config.sources[1]).interval, DEFAULT_FILE_INTERVAL);
}

#[test]
fn interval_on_an_sse_source_is_refused() {
    let error = only_error(
        "[[source]]\nname = \"s\"\ntype = \"sse\"\nurl = \"http://h/\"\ninterval = \"5s\"\n",
    );
    assert_eq!(at(&error), (5, 1));
    assert!(
        error
            .message
            .contains("only applies to `fetch`, `file` or `websocket`"),
        "{error}"
    );
}

#[test]
fn duplicate_source_name_is_refused() {
    let text = "[[source]]\nname = \"cam\"\ntype = \"sse\"\nurl = \"http://h/\"\n\
                [[source]]\nname = \"Cam\"\ntype = \"sse\"\nurl = \"http://g/\"\n";
    let error = only_error(text);
    assert_eq!(at(&error), (6, 8));
    assert!(error.message.contains("on line 2"), "{error}");
}

#[test]
fn duplicate_unit_address_ignores_case() {
    let text = "[[unit]]\naddress = \"Motion\"\nkind = \"switch\"\n\
                [[unit]]\naddress = \"MOTION\"\nkind = \"switch\"\n";
    let error = only_error(text);
    assert_eq!(at(&error), (5, 11));
    assert!(
        error
            .message
            .contains("already used by the [[unit]] on line 2"),
        "{error}"
    );
}

#[test]
fn duplicate_explicit_entity_id_is_refused() {
    let text = "[[unit]]\naddress = \"A\"\nkind = \"switch\"\nentity_id = \"switch.x\"\n\
                [[unit]]\naddress = \"B\"\nkind = \"switch\"\nentity_id = \"switch.x\"\n";
    let error = only_error(text);
    assert_eq!(at(&error), (8, 13));
}

#[test]
fn default_entity_id_counts_as_a_duplicate() {
    let text = "[[unit]]\naddress = \"hall light\"\nkind = \"dimmer\"\n\
                [[unit]]\naddress = \"X\"\nkind = \"sensor\"\nentity_id = \"light.hall_light\"\n";
    let error = only_error(text);
    assert_eq!(at(&error), (7, 13));
    let text = "[[unit]]\naddress = \"hall-light\"\nkind = \"dimmer\"\n\
                [[unit]]\naddress = \"hall light\"\nkind = \"dimmer\"\n";
    let error = only_error(text);
    assert_eq!(at(&error), (5, 11));
    assert!(
        error
            .message
            .contains("default entity_id `light.hall_light`"),
        "{error}"
    );
}

#[test]
fn malformed_entity_id_is_refused() {
    let error =
        only_error("[[unit]]\naddress = \"A\"\nkind = \"switch\"\nentity_id = \"Switch.A\"\n");
    assert!(error.message.contains("lower-case"), "{error}");
}

#[test]
fn unknown_choice_suggests_the_closest() {
    let error = only_error("[[unit]]\naddress = \"A\"\nkind = \"swich\"\n");
    assert_eq!(
        error.message,
        "`kind` in [[unit]] `A` is `swich`; did you mean `switch`? It must be `switch`, `dimmer` or `sensor`"
    );
}

#[test]
fn missing_required_key_is_reported_at_the_header() {
    let errors = load("\n[[source]]\nname = \"x\"\n").unwrap_err();
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert!(errors.iter().all(|e| at(e) == (2, 1)));
    assert!(
        errors[0].message.contains("has no `type`") || errors[1].message.contains("has no `type`")
    );
}

#[test]
fn raw_format_needs_exactly_one_event_name() {
    let text = "[[source]]\nname = \"w\"\ntype = \"websocket\"\nurl = \"ws://h/\"\nevents = [\"a\", \"b\"]\n";
    let error = only_error(text);
    assert_eq!(at(&error), (5, 10));
    assert!(
        error.message.contains("the default for `websocket`"),
        "{error}"
    );
    let text = "[[source]]\nname = \"w\"\ntype = \"sse\"\nurl = \"http://h/\"\nformat = \"raw\"\n";
    let error = only_error(text);
    assert_eq!(at(&error), (5, 10));
}

#[test]
fn other_formats_need_no_event_name() {
    let text = "[[source]]\nname = \"d\"\ntype = \"websocket\"\nurl = \"ws://h:8088/\"\nformat = \"deconz\"\n";
    assert_eq!(load(text).unwrap().sources[0].format, FormatKind::Deconz);
}

#[test]
fn body_with_get_is_refused() {
    let text = "[[source]]\nname = \"s\"\ntype = \"fetch\"\nurl = \"http://h/\"\nevents = [\"t\"]\nbody = \"{}\"\n";
    let error = only_error(text);
    assert_eq!(at(&error), (6, 1));
    assert!(error.message.contains("method = \"POST\""), "{error}");
    let text = "[[source]]\nname = \"s\"\ntype = \"fetch\"\nurl = \"http://h/\"\nevents = [\"t\"]\nmethod = \"post\"\nbody = \"{}\"\n";
    let config = load(text).unwrap();
    assert_eq!(request(&config.sources[0]).method, Method::POST);
    assert_eq!(request(&config.sources[0]).body.as_deref(), Some("{}"));
}

#[test]
fn mqtt_needs_topics() {
    let text = "[[source]]\nname = \"m\"\ntype = \"mqtt\"\nurl = \"mqtt://b\"\nevents = [\"t\"]\n";
    let error = only_error(text);
    assert!(error.message.contains("has no `topics`"), "{error}");
}

#[test]
fn source_written_as_a_single_table_is_refused() {
    let error = only_error("[source]\nname = \"x\"\n");
    assert!(error.message.contains("`[[source]]`"), "{error}");
}

#[test]
fn header_name_must_be_valid() {
    let text = "[[source]]\nname = \"s\"\ntype = \"sse\"\nurl = \"http://h/\"\nheaders = { \"Bad Name\" = \"x\" }\n";
    let error = only_error(text);
    assert_eq!(at(&error), (5, 13));
}

#[test]
fn url_and_path_together_are_refused() {
    let text = "[[source]]\nname = \"f\"\ntype = \"file\"\nurl = \"a.txt\"\npath = \"b.txt\"\n";
    let error = only_error(text);
    assert_eq!(at(&error), (5, 1));
    assert!(error.message.contains("keep one"), "{error}");
}

#[test]
fn json_pointer_needs_json_format() {
    let base = "[[source]]\nname = \"j\"\ntype = \"sse\"\nurl = \"http://h/\"\njson_pointer = \"/state\"\n";
    let error = only_error(base);
    assert_eq!(at(&error), (5, 1));
    let config = load(&format!("{base}format = \"json\"\n")).unwrap();
    assert_eq!(config.sources[0].json_pointer.as_deref(), Some("/state"));
}

#[test]
fn mqtt_keys_on_another_type_are_refused() {
    let text = "[[source]]\nname = \"s\"\ntype = \"sse\"\nurl = \"http://h/\"\ntopics = [\"a\"]\n";
    let error = only_error(text);
    assert!(
        error
            .message
            .contains("only applies to `mqtt` sources, not `sse`"),
        "{error}"
    );
}

/// Neuro's four source blocks from its `config.js`, in TOML.
const NEURO_BLOCKS: &str = include_str!("../../tests/data/neuro.toml");

#[test]
fn neuro_source_blocks_load_unchanged() {
    let config = load(NEURO_BLOCKS).unwrap();
    let types: Vec<&str> = config.sources.iter().map(|s| s.kind.type_name()).collect();
    assert_eq!(types, ["sse", "websocket", "fetch", "file"]);
    let fetch = fetch(&config.sources[2]);
    assert_eq!(fetch.interval, Duration::from_secs(5));
    assert_eq!(fetch.request.credentials, Credentials::Include);
    assert_eq!(file(&config.sources[3]).interval, Duration::from_secs(1));
    assert_eq!(
        file(&config.sources[3]).path,
        Path::new("/etc/homebus/provider.txt")
    );
}

#[test]
fn source_type_ignores_case_and_takes_wss_for_websocket() {
    for written in ["websocket", "WebSocket", "wss", "WSS"] {
        let text = format!(
            "[[source]]\nname = \"w\"\ntype = \"{written}\"\nurl = \"ws://h/\"\nevents = [\"e\"]\n"
        );
        let config = load(&text).unwrap_or_else(|e| panic!("{written}: {e:#?}"));
        assert!(
            matches!(config.sources[0].kind, SourceKind::Websocket(_)),
            "{written}"
        );
    }
}

#[test]
fn a_bare_source_interval_is_milliseconds() {
    let text = "[[source]]\nname = \"w\"\ntype = \"websocket\"\nurl = \"ws://h/\"\nevents = [\"e\"]\ninterval = 250\n";
    match &load(text).unwrap().sources[0].kind {
        SourceKind::Websocket(c) => assert_eq!(c.interval, Duration::from_millis(250)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_zero_source_interval_is_refused() {
    let text = "[[source]]\nname = \"f\"\ntype = \"file\"\nurl = \"x.txt\"\ninterval = 0\n";
    let error = only_error(text);
    assert_eq!(at(&error), (5, 12));
    assert!(error.message.contains("between 1 and"), "{error}");
}

#[test]
fn a_key_the_type_does_not_take_lists_the_keys_it_takes() {
    for kind in ["sse", "file", "mqtt"] {
        let url = match kind {
            "sse" => "http://h/",
            "mqtt" => "mqtt://h",
            _ => "x.txt",
        };
        let text = format!(
            "[[source]]\nname = \"s\"\ntype = \"{kind}\"\nurl = \"{url}\"\ntopics = [\"t\"]\ntimeout = \"5s\"\n"
        );
        let errors = load(&text).unwrap_err();
        let error = errors
            .iter()
            .find(|e| e.line == 6)
            .unwrap_or_else(|| panic!("{kind}: {errors:#?}"));
        assert_eq!(at(error), (6, 1));
        assert!(
            error.message.contains(&format!(
                "`timeout` in [[source]] `s` only applies to `fetch` or `websocket` sources, not `{kind}`"
            )),
            "{error}"
        );
        assert!(
            error
                .message
                .contains(&format!("`{kind}` sources take `name`, `type`")),
            "{error}"
        );
    }
}

#[test]
fn reconnect_on_a_polled_source_is_refused() {
    let text = "[[source]]\nname = \"w\"\ntype = \"fetch\"\nurl = \"http://h/\"\nevents = [\"t\"]\nreconnect = \"1s\"\n";
    let error = only_error(text);
    assert!(
        error
            .message
            .contains("only applies to `mqtt`, `sse` or `websocket` sources, not `fetch`"),
        "{error}"
    );
}

#[test]
fn credentials_on_sse_and_fetch_choose_the_cookie_jar() {
    let base = "[[source]]\nname = \"s\"\ntype = \"sse\"\nurl = \"http://h/\"\n";
    let credentials =
        |extra: &str| request(&load(&format!("{base}{extra}")).unwrap().sources[0]).credentials;
    assert_eq!(credentials(""), Credentials::Omit);
    assert_eq!(
        credentials("credentials = \"include\"\n"),
        Credentials::Include
    );
    assert_eq!(
        credentials("credentials = \"same-origin\"\n"),
        Credentials::SameOrigin
    );
    assert!(credentials("credentials = \"same-origin\"\n").keeps_cookies());
    assert!(!credentials("credentials = \"omit\"\n").keeps_cookies());
    let error = only_error(&format!("{base}credentials = \"always\"\n"));
    assert!(
        error
            .message
            .contains("must be `omit`, `same-origin` or `include`"),
        "{error}"
    );
}

#[test]
fn headers_are_built_once_and_their_values_stay_out_of_debug_output() {
    let text = "[[source]]\nname = \"s\"\ntype = \"sse\"\nurl = \"http://h/\"\nheaders = { Authorization = \"Bearer hunter2\" }\n";
    let config = load(text).unwrap();
    let headers = &request(&config.sources[0]).headers;
    assert_eq!(headers["authorization"], "Bearer hunter2");
    assert!(headers["authorization"].is_sensitive());
    assert!(!format!("{config:?}").contains("hunter2"));
}

#[test]
fn a_file_url_on_another_host_is_refused() {
    let error =
        only_error("[[source]]\nname = \"f\"\ntype = \"file\"\nurl = \"file://otherhost/x\"\n");
    assert!(error.message.contains("absolute path"), "{error}");
}

#[test]
fn path_is_only_for_file_sources() {
    let error =
        only_error("[[source]]\nname = \"s\"\ntype = \"sse\"\nurl = \"http://h/\"\npath = \"x\"\n");
    assert!(
        error.message.contains("only applies to `file` sources"),
        "{error}"
    );
}
