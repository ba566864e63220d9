//! The README's first command must work on a fresh checkout: run it (with
//! the test binary instead of `cargo run`) and expect one mapped record.

#[test]
fn the_readme_first_command_maps_a_record() {
    let readme = std::fs::read_to_string("README.md").expect("README.md");
    let line = readme
        .lines()
        .find(|l| l.starts_with("cargo run --release -- "))
        .expect("README shows a `cargo run --release -- …` command");
    let args: Vec<&str> = line.trim_start_matches("cargo run --release -- ").split_whitespace().collect();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mapwright")).args(&args).output().expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("1 mapped, 0 filtered, 0 failed"), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 1);
}
