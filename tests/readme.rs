//! The README's two commands: the first must work on a fresh checkout (run
//! it with the test binary instead of `cargo run`), and the second must be
//! exactly what `.ci/run` runs.

#[test]
fn the_readme_first_command_runs_the_main_example() {
    let readme = std::fs::read_to_string("README.md").expect("README.md");
    let line = readme
        .lines()
        .find(|l| l.starts_with("cargo run --release -- "))
        .expect("README shows a `cargo run --release -- …` command");
    let args: Vec<&str> = line.trim_start_matches("cargo run --release -- ").split_whitespace().collect();
    assert_eq!(args[0], "run", "the first command runs a pipeline");
    let example = std::path::Path::new(args[1]).parent().expect("a pipeline in a folder");
    let _ = std::fs::remove_dir_all(example.join("out"));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mapwright")).args(&args).output().expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("15 read, 9 delivered, 1 filtered, 5 failed"), "{stderr}");
    let delivered = std::fs::read_to_string(example.join("out/sales_orders.jsonl")).expect("output");
    assert_eq!(delivered.lines().count(), 9);
    let _ = std::fs::remove_dir_all(example.join("out"));
}

#[test]
fn ci_runs_the_readme_test_command() {
    let readme = std::fs::read_to_string("README.md").expect("README.md");
    let two = readme.split("## Two commands").nth(1).expect("a Two commands section");
    let block = two.split("```sh").nth(1).and_then(|b| b.split("```").next()).expect("a sh block");
    let commands: Vec<&str> = block.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).collect();
    assert_eq!(commands.len(), 2, "{commands:?}");
    let ci = std::fs::read_to_string(".ci/run").expect(".ci/run");
    let last = ci.lines().map(str::trim).rfind(|l| !l.is_empty() && !l.starts_with('#'));
    assert_eq!(last, Some(commands[1]), ".ci/run must end by running the README's test command");
}

/// The README's mapping and pipeline references are generated from the
/// loaders' key tables (`mapwright doc --keys …` prints them), so docs and
/// loaders read the same keys. This test fails when they drift;
/// `UPDATE_README=1 cargo test --test readme` rewrites them.
#[test]
fn readme_key_references_match_the_key_tables() {
    use mapwright_engine::spec::keys::reference_markdown;
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
    let mut readme = std::fs::read_to_string(path).expect("README.md");
    let mut stale = Vec::new();
    for (name, generated) in [
        ("mapping", reference_markdown(&[&mapwright_engine::spec::mapping::MAPPING])),
        ("pipeline", reference_markdown(&[mapwright_pipeline::KEYS])),
    ] {
        let (start, end) = (format!("<!-- keys:{name}:start -->\n"), format!("<!-- keys:{name}:end -->"));
        let (Some(s), Some(e)) = (readme.find(&start), readme.find(&end)) else {
            panic!("README.md lacks the {start:?} … {end:?} markers");
        };
        if readme[s + start.len()..e] != generated {
            stale.push(name);
            readme = format!("{}{start}{generated}{}", &readme[..s], &readme[e..]);
        }
        let cli = std::process::Command::new(env!("CARGO_BIN_EXE_mapwright"))
            .args(["doc", "--keys", name])
            .output()
            .expect("runs");
        assert_eq!(String::from_utf8_lossy(&cli.stdout), generated, "`mapwright doc --keys {name}` prints the table");
    }
    if !stale.is_empty() {
        if std::env::var_os("UPDATE_README").is_some() {
            std::fs::write(path, readme).expect("README.md is writable");
        } else {
            panic!(
                "README.md's key reference is out of date ({stale:?}): run UPDATE_README=1 cargo test --test readme"
            );
        }
    }
}
