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
