//! The library's top-level modules use each other without a cycle, so the
//! code reads in one direction (`src/lib.rs` gives the order). An edge is a
//! `crate::<module>` path in a module's non-test code.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The top-level modules `src/lib.rs` declares.
fn modules(src: &Path) -> Vec<String> {
    let lib = std::fs::read_to_string(src.join("lib.rs")).expect("read src/lib.rs");
    lib.lines()
        .filter_map(|line| {
            let line = line.trim();
            let rest = line
                .strip_prefix("pub mod ")
                .or_else(|| line.strip_prefix("mod "))?;
            Some(rest.trim_end_matches(';').to_string())
        })
        .collect()
}

/// Every `.rs` file of a module: `src/<m>.rs`, or everything under `src/<m>/`.
fn files_of(src: &Path, module: &str) -> Vec<PathBuf> {
    let single = src.join(format!("{module}.rs"));
    if single.exists() {
        return vec![single];
    }
    let mut files = Vec::new();
    let mut folders = vec![src.join(module)];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).expect("read a module folder") {
            let path = entry.expect("folder entry").path();
            if path.is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files
}

/// The code of a file without its unit tests (`tests.rs` files, and what
/// follows `#[cfg(test)]`): tests may reach anywhere.
fn non_test_code(path: &Path) -> String {
    if path.file_name().is_some_and(|n| n == "tests.rs") {
        return String::new();
    }
    let text = std::fs::read_to_string(path).expect("read a source file");
    text.split("#[cfg(test)]").next().unwrap_or("").to_string()
}

/// The modules a piece of code names as `crate::<m>` or `crate::{<m>, …}`.
fn used_modules(code: &str, modules: &[String]) -> BTreeSet<String> {
    let mut used = BTreeSet::new();
    for (at, _) in code.match_indices("crate::") {
        let rest = &code[at + "crate::".len()..];
        let names: Vec<&str> = match rest.strip_prefix('{') {
            Some(group) => group
                .split('}')
                .next()
                .unwrap_or("")
                .split(',')
                .map(|n| n.trim().split("::").next().unwrap_or(""))
                .collect(),
            None => vec![
                rest.split(|c: char| !c.is_alphanumeric() && c != '_')
                    .next()
                    .unwrap_or(""),
            ],
        };
        used.extend(
            names
                .into_iter()
                .filter(|n| modules.iter().any(|m| m == n))
                .map(str::to_string),
        );
    }
    used
}

/// A cycle through `start`, as the path of modules, if there is one.
fn cycle_from(start: &str, uses: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    let mut stack = vec![vec![start.to_string()]];
    let mut seen = BTreeSet::new();
    while let Some(path) = stack.pop() {
        let last = path.last().expect("a path is never empty");
        for next in &uses[last] {
            if next == start {
                let mut cycle = path.clone();
                cycle.push(start.to_string());
                return Some(cycle);
            }
            if seen.insert(next.clone()) {
                let mut longer = path.clone();
                longer.push(next.clone());
                stack.push(longer);
            }
        }
    }
    None
}

#[test]
fn top_level_modules_use_each_other_without_a_cycle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let modules = modules(&src);
    assert!(modules.len() > 10, "src/lib.rs declares {modules:?}");
    let uses: BTreeMap<String, BTreeSet<String>> = modules
        .iter()
        .map(|module| {
            let mut used = BTreeSet::new();
            for file in files_of(&src, module) {
                used.extend(used_modules(&non_test_code(&file), &modules));
            }
            used.remove(module);
            (module.clone(), used)
        })
        .collect();
    let cycles: Vec<String> = modules
        .iter()
        .filter_map(|m| cycle_from(m, &uses))
        .map(|cycle| cycle.join(" → "))
        .collect();
    assert!(cycles.is_empty(), "module cycles:\n{}", cycles.join("\n"));
}

#[test]
fn a_cycle_is_found_when_two_modules_use_each_other() {
    let modules = vec!["config".to_string(), "sources".to_string()];
    let uses: BTreeMap<String, BTreeSet<String>> = [
        ("config", "use crate::sources::SourceConfig;"),
        ("sources", "use crate::{config::Config, event};"),
    ]
    .into_iter()
    .map(|(m, code)| (m.to_string(), used_modules(code, &modules)))
    .collect();
    assert_eq!(
        cycle_from("config", &uses),
        Some(vec!["config".into(), "sources".into(), "config".into()])
    );
}
