//! Rules the build checks by reading the source (in the spirit of rust-analyzer's
//! `tidy.rs`), so the layering cannot rot one import at a time:
//!
//! - `config` imports no other module; `kit` imports only `config` and itself.
//! - A surface (one folder per surface: `inbox/`, `portal/`, …) imports only `kit`,
//!   `config` and itself, never another surface, `app` or `cli`; each has `routes()`.
//! - Each workspace crate depends only on crates below it: `core` ← `channels`, `kb`,
//!   `portal` ← `bots` ← `gateway` (integration tests and benchmarks stand outside).
//! - The store's readers of conversation or message data take the reader's scope: that
//!   rule reads the store's source and lives beside it, in `core/src/store/tidy.rs`.
//!
//! Each rule is also run once on a small broken source, to show it can fail.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The surfaces: one folder each, none importing another.
const SURFACES: &[&str] = &[
    "account",
    "admin",
    "billing",
    "email",
    "equipment",
    "inbox",
    "kb",
    "ops",
    "portal",
    "webchat",
    "whatsapp",
];

/// What a room may import besides itself. `app`, `cli` and `lib` compose and may import
/// anything.
fn allowed(room: &str) -> Option<&'static [&'static str]> {
    match room {
        "config" => Some(&[]),
        "kit" => Some(&["config"]),
        r if SURFACES.contains(&r) => Some(&["config", "kit"]),
        _ => None,
    }
}

/// One source file: its path under `src/` (with `/`) and its text.
struct Source {
    path: String,
    text: String,
}

fn sources(dir: &Path) -> Vec<Source> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<Source>) {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                walk(root, &p, out);
            } else if p.extension().is_some_and(|e| e == "rs") {
                let rel = p
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/");
                out.push(Source {
                    path: rel,
                    text: std::fs::read_to_string(&p).unwrap(),
                });
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out
}

/// The room a file belongs to: its folder under `src/`, or its name for a top-level file.
fn room(path: &str) -> &str {
    let first = path.split('/').next().unwrap_or(path);
    first.strip_suffix(".rs").unwrap_or(first)
}

/// The module path of a file: `inbox/pages.rs` is `[inbox, pages]`, `inbox/mod.rs` is
/// `[inbox]`, `lib.rs` is `[]`.
fn module_path(path: &str) -> Vec<String> {
    let mut parts: Vec<String> = path.split('/').map(str::to_owned).collect();
    let last = parts.pop().unwrap_or_default();
    if last != "mod.rs" && last != "lib.rs" && last != "main.rs" {
        parts.push(last.trim_end_matches(".rs").to_owned());
    }
    parts
}

fn ident_at(text: &str, at: usize) -> &str {
    let rest = &text[at..];
    let end = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(rest.len());
    &rest[..end]
}

/// The top-level modules a file names: `crate::x`, and `super::…::x` chains that climb
/// to the crate root. Inside a `mod tests` block a chain starts one level deeper. Line
/// comments are skipped.
fn imports(path: &str, text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let here = module_path(path);
    let mut depth_extra = 0;
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or("");
        if code.trim_start().starts_with("mod tests") {
            depth_extra = 1;
        }
        let mut from = 0;
        while let Some(i) = code[from..].find("crate::") {
            let at = from + i;
            from = at + "crate::".len();
            // `switchboard_crate::x` is another crate's path, not ours.
            if at > 0 && code[..at].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_') {
                continue;
            }
            let name = ident_at(code, from);
            if !name.is_empty() {
                out.insert(name.to_owned());
            }
        }
        let mut from = 0;
        while let Some(i) = code[from..].find("super::") {
            let at = from + i;
            let mut ups = 0;
            let mut pos = at;
            while code[pos..].starts_with("super::") {
                ups += 1;
                pos += "super::".len();
            }
            from = pos;
            let name = ident_at(code, pos);
            let base = here.len() + depth_extra;
            if ups > base {
                out.insert("<outside the crate>".to_owned());
            } else if ups == base && !name.is_empty() {
                // Climbed to the crate root: what follows is a top-level module.
                out.insert(name.to_owned());
            }
        }
    }
    out
}

/// Every import against the rooms' rules, as `file: imports room`.
fn layering_violations(files: &[Source], rooms: impl Fn(&str) -> bool) -> Vec<String> {
    let mut bad = Vec::new();
    for f in files {
        let own = room(&f.path);
        if !rooms(own) {
            continue;
        }
        let Some(may) = allowed(own) else { continue };
        for name in imports(&f.path, &f.text) {
            if name != own && !may.contains(&name.as_str()) {
                bad.push(format!("{}: imports `{name}`", f.path));
            }
        }
    }
    bad
}

fn gateway_sources() -> Vec<Source> {
    sources(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"))
}

#[test]
fn surfaces_import_no_other_surface() {
    let files = gateway_sources();
    let bad = layering_violations(&files, |r| SURFACES.contains(&r));
    assert!(
        bad.is_empty(),
        "a surface imports only kit and config; move shared behaviour down into kit or a \
         lower crate:\n{}",
        bad.join("\n")
    );
    for s in SURFACES {
        let root = files
            .iter()
            .find(|f| f.path == format!("{s}/mod.rs"))
            .unwrap_or_else(|| panic!("the surface {s} is a folder with a mod.rs"));
        assert!(
            root.text.contains("pub fn routes("),
            "{s}/mod.rs exposes routes()"
        );
    }
    // Every folder is a known room, so a new surface is listed here on purpose.
    for f in &files {
        let r = room(&f.path);
        if f.path.contains('/') {
            assert!(
                r == "kit" || r == "cli" || SURFACES.contains(&r),
                "{}: a folder that is neither kit, cli nor a listed surface",
                f.path
            );
        }
    }
}

#[test]
fn kit_imports_no_surface() {
    let bad = layering_violations(&gateway_sources(), |r| r == "kit" || r == "config");
    assert!(
        bad.is_empty(),
        "kit imports only config, and config nothing:\n{}",
        bad.join("\n")
    );
}

/// The command groups of `cli/` that reach another group (`super::x`, `crate::cli`).
fn cli_violations(files: &[Source]) -> Vec<String> {
    let mut bad = Vec::new();
    for f in files {
        let Some(group) = f.path.strip_prefix("cli/") else {
            continue;
        };
        if group == "mod.rs" {
            continue;
        }
        let code = f.text.split("\n#[cfg(test)]").next().unwrap_or("");
        let reaches = code
            .lines()
            .map(|l| l.split("//").next().unwrap_or(""))
            .any(|l| l.contains("super::") || l.contains("crate::cli"));
        if reaches {
            bad.push(format!("{}: reaches another command group", f.path));
        }
    }
    bad
}

#[test]
fn cli_groups_import_no_other_group() {
    let bad = cli_violations(&gateway_sources());
    assert!(
        bad.is_empty(),
        "one module per command group, none importing another:\n{}",
        bad.join("\n")
    );
}

/// Each crate's level; a crate may depend only on crates of a lower level.
const LEVELS: &[(&str, u8)] = &[
    ("core", 0),
    ("channels", 1),
    ("kb", 1),
    ("portal", 1),
    ("bots", 2),
    ("gateway", 3),
];

fn level_of(dir_or_package: &str) -> Option<u8> {
    let name = dir_or_package
        .trim_start_matches("switchboard-")
        .trim_start_matches("switchboard_");
    let name = if name == "switchboard" {
        "gateway"
    } else {
        name
    };
    LEVELS.iter().find(|(n, _)| *n == name).map(|(_, l)| *l)
}

/// The workspace crates a manifest's `[dependencies]` names.
fn manifest_dependencies(manifest: &str) -> Vec<String> {
    let mut in_deps = false;
    let mut out = Vec::new();
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_deps = line == "[dependencies]";
            continue;
        }
        if in_deps {
            let name = line.split(['=', '.', ' ']).next().unwrap_or("");
            if name.starts_with("switchboard") {
                out.push(name.to_owned());
            }
        }
    }
    out
}

/// The workspace crates a crate's own source names (`switchboard_x::`).
fn source_dependencies(files: &[Source]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for f in files {
        let mut from = 0;
        while let Some(i) = f.text[from..].find("switchboard_") {
            let at = from + i;
            from = at + 1;
            let name = ident_at(&f.text, at);
            if f.text[at + name.len()..].starts_with("::") && level_of(name).is_some() {
                out.insert(name.to_owned());
            }
        }
    }
    out
}

/// `crate: depends on other` for every dependency that does not go down.
fn direction_violations(krate: &str, manifest: &str, files: &[Source]) -> Vec<String> {
    let Some(mine) = level_of(krate) else {
        return vec![format!("{krate}: a crate without a level")];
    };
    let mut bad = Vec::new();
    let named = manifest_dependencies(manifest)
        .into_iter()
        .chain(source_dependencies(files));
    for dep in named {
        // A crate naming itself (`switchboard_bots::` in its own docs) is no dependency.
        let itself = dep.ends_with(krate) && level_of(&dep) == Some(mine);
        if !itself && level_of(&dep).is_none_or(|l| l >= mine) {
            bad.push(format!("{krate}: depends on {dep}"));
        }
    }
    bad
}

#[test]
fn crates_import_down_the_workspace() {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut bad = Vec::new();
    for (krate, _) in LEVELS {
        let dir = workspace.join(krate);
        let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
        bad.extend(direction_violations(
            krate,
            &manifest,
            &sources(&dir.join("src")),
        ));
    }
    assert!(
        bad.is_empty(),
        "core ← channels/kb/portal ← bots ← gateway:\n{}",
        bad.join("\n")
    );
}

/// Each rule fails on a source that breaks it (and only then).
#[test]
fn each_rule_goes_red_when_broken() {
    let src = |path: &str, text: &str| Source {
        path: path.to_owned(),
        text: text.to_owned(),
    };
    let sideways = [
        src("inbox/pages.rs", "use crate::portal::auth::mint;\n"),
        src("inbox/mod.rs", "use super::billing::pages;\n"),
        src(
            "inbox/api.rs",
            "use crate::kit::AppState;\nuse super::pages;\n",
        ),
        src(
            "portal/tickets.rs",
            "let x = switchboard_core::store::Store::new(); // crate::inbox\n",
        ),
    ];
    let bad = layering_violations(&sideways, |r| SURFACES.contains(&r));
    assert_eq!(
        bad,
        [
            "inbox/pages.rs: imports `portal`",
            "inbox/mod.rs: imports `billing`"
        ]
    );
    let up = [
        src(
            "kit/page.rs",
            "page.views = crate::inbox::pages::links();\n",
        ),
        src(
            "kit/mail/poller.rs",
            "use super::super::super::app::AppState;\n",
        ),
        src(
            "kit/mail/intake.rs",
            "use super::poller;\nuse crate::config::X;\n",
        ),
        src("config.rs", "use crate::kit::AppState;\n"),
    ];
    let bad = layering_violations(&up, |r| r == "kit" || r == "config");
    assert_eq!(
        bad,
        [
            "kit/page.rs: imports `inbox`",
            "kit/mail/poller.rs: imports `app`",
            "config.rs: imports `kit`"
        ]
    );
    let core = "[dependencies]\nswitchboard-kb.workspace = true\n[dev-dependencies]\nswitchboard-bots.workspace = true\n";
    assert_eq!(
        direction_violations("core", core, &[]),
        ["core: depends on switchboard-kb"]
    );
    let bots_src = [src("policy.rs", "use switchboard_gateway::kit;\n")];
    assert_eq!(
        direction_violations("bots", "[dependencies]\n", &bots_src),
        ["bots: depends on switchboard_gateway"]
    );
    assert!(direction_violations("bots", "[dependencies]\nswitchboard-kb = {}\n", &[]).is_empty());
    let cli = [
        src("cli/user.rs", "use super::kb::KbCommand;\n"),
        src("cli/kb.rs", "use crate::kit::AppState; // super::user\n"),
        src("cli/mod.rs", "use super::app::Application;\n"),
    ];
    assert_eq!(
        cli_violations(&cli),
        ["cli/user.rs: reaches another command group"]
    );
}
