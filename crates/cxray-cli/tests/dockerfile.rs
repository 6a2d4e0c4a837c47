//! The Dockerfile cannot be built on the development machines (no Docker engine there), so
//! what it relies on is checked here: the binary it copies needs only the libraries of its
//! runtime image (Debian slim has libc, libm and libgcc_s, nothing else: a dependency on,
//! say, OpenSSL would fail this test before it failed a deployment), and the image runs
//! `cxray serve` as a non-root user on the port it exposes.

use std::process::Command;

/// Libraries `debian:bookworm-slim` provides to a program (packages libc6 and libgcc-s1).
const IN_SLIM: [&str; 7] = [
    "linux-vdso.so.1",
    "libc.so.6",
    "libm.so.6",
    "libgcc_s.so.1",
    "libpthread.so.0",
    "libdl.so.2",
    "ld-linux-x86-64.so.2",
];

#[test]
fn the_binary_needs_only_what_the_runtime_image_has() {
    // Linux only (the image's platform), where glibc always brings ldd: no silent pass.
    if !cfg!(target_os = "linux") {
        return;
    }
    let out = Command::new("ldd")
        .arg(env!("CARGO_BIN_EXE_cxray"))
        .output()
        .expect("ldd runs (it comes with glibc)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.trim().is_empty(), "ldd printed nothing");
    for line in text.lines() {
        let lib = line.split_whitespace().next().unwrap_or("");
        let name = lib.rsplit('/').next().unwrap_or(lib);
        assert!(
            IN_SLIM.contains(&name),
            "the binary links {name}, which debian:bookworm-slim lacks: install it in the \
             Dockerfile's runtime stage (ldd: {line})"
        );
    }
}

#[test]
fn the_image_serves_as_a_non_root_user_on_its_exposed_port() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../Dockerfile");
    let file = std::fs::read_to_string(path).expect("a Dockerfile at the root");
    let stages: Vec<&str> = file.lines().filter(|l| l.starts_with("FROM ")).collect();
    assert_eq!(stages.len(), 2, "multi-stage: build, then runtime");
    assert!(stages[1].contains("-slim"), "{}", stages[1]);
    assert!(file.contains("cargo build --release --locked -p cxray-cli"));
    let user = file
        .lines()
        .find_map(|l| l.strip_prefix("USER "))
        .expect("a USER");
    assert_ne!(user.trim(), "root");
    let port = file
        .lines()
        .find_map(|l| l.strip_prefix("EXPOSE "))
        .expect("EXPOSE");
    let cmd = file
        .lines()
        .find_map(|l| l.strip_prefix("CMD "))
        .expect("CMD");
    assert!(
        cmd.contains("\"serve\"") && cmd.contains(&format!("0.0.0.0:{}", port.trim())),
        "{cmd}"
    );
    // The ignore file keeps build outputs and stores out of the build context.
    let ignore =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../.dockerignore"))
            .unwrap();
    for entry in ["target", "*.db"] {
        assert!(ignore.contains(entry), "{entry}");
    }
}
