//! Every TOML example in README.md and docs/ is a config the hub accepts:
//! a user who copies one gets no error. Files an example names (TLS
//! certificates) are made in a temp dir beside it; `env:` values are
//! supplied. README.md links every doc.

mod support;

use std::path::{Path, PathBuf};

use support::tls::TestCertificates;

/// The Markdown files a user reads.
fn documents() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![root.join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .expect("docs/")
        .map(|entry| entry.expect("docs entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    files.extend(docs);
    files
}

/// The ```toml blocks of a Markdown text, with the line each starts on.
fn toml_blocks(markdown: &str) -> Vec<(usize, String)> {
    let mut blocks = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (number, line) in markdown.lines().enumerate() {
        match &mut current {
            None if line.trim_start() == "```toml" => current = Some((number + 2, String::new())),
            None => {}
            Some(_) if line.trim_start() == "```" => blocks.extend(current.take()),
            Some((_, text)) => {
                text.push_str(line);
                text.push('\n');
            }
        }
    }
    blocks
}

/// The file names an example's `tls` tables point at, made from the test CA.
fn make_named_files(block: &str, dir: &Path, certificates: &TestCertificates) {
    for (key, from) in [
        ("ca_file", &certificates.ca),
        ("client_cert", &certificates.client_cert),
        ("client_key", &certificates.client_key),
    ] {
        for rest in block.split(&format!("{key} = \"")).skip(1) {
            let name = rest.split('"').next().expect("a closing quote");
            let target = dir.join(name);
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent).expect("make the example's folders");
            }
            std::fs::copy(from, target).expect("copy a test certificate");
        }
    }
}

#[test]
fn every_toml_example_in_the_docs_is_a_config_homebus_accepts() {
    let certificates = TestCertificates::new();
    let mut checked = 0;
    let mut refused = Vec::new();
    for document in documents() {
        let markdown = std::fs::read_to_string(&document).expect("read a doc");
        for (line, block) in toml_blocks(&markdown) {
            let dir = tempfile::tempdir().expect("temp dir");
            make_named_files(&block, dir.path(), &certificates);
            let file = dir.path().join("homebus.toml");
            let result = homebus::config::parse_str_with_env(&block, &file, &|_| {
                Some("example-secret".to_string())
            });
            checked += 1;
            if let Err(errors) = result {
                refused.push(format!("{}:{line}:\n{errors}", document.display()));
            }
        }
    }
    assert!(checked >= 5, "only {checked} TOML examples found");
    assert!(
        refused.is_empty(),
        "TOML examples that homebus refuses:\n\n{}",
        refused.join("\n\n")
    );
}

#[test]
fn the_readme_links_every_doc() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("read README.md");
    let unlinked: Vec<String> = documents()
        .into_iter()
        .skip(1)
        .map(|doc| format!("(docs/{})", doc.file_name().unwrap().to_string_lossy()))
        .filter(|link| !readme.contains(link.as_str()))
        .collect();
    assert!(unlinked.is_empty(), "README.md does not link {unlinked:?}");
}
