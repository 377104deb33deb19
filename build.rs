//! Fails the build early, with one clear line, when a system library it links is missing (the
//! alternative is a linker error minutes later). The SQLite sink links the system's shared libsqlite3,
//! the one Python's own `sqlite3` module uses (see Cargo.toml for why not a bundled copy).

use std::path::Path;

fn main() {
    println!("cargo:rerun-if-env-changed=SQLITE3_LIB_DIR");
    println!("cargo:rerun-if-env-changed=PKG_CONFIG_PATH");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if os != "linux" || sqlite_linkable() {
        return;
    }
    eprintln!(
        "fleetstream: SQLite's development library (libsqlite3.so) was not found; install it and build again: \
         `apt install libsqlite3-dev` (Debian, Ubuntu), `dnf install sqlite-devel` (Fedora, RHEL), \
         `apk add sqlite-dev` (Alpine), or set SQLITE3_LIB_DIR to the folder that holds libsqlite3.so"
    );
    std::process::exit(1);
}

/// Where libsqlite3-sys (without its bundled copy) will look: SQLITE3_LIB_DIR, pkg-config, then the
/// linker's usual folders.
fn sqlite_linkable() -> bool {
    let has_lib = |dir: &Path| ["libsqlite3.so", "libsqlite3.a"].iter().any(|f| dir.join(f).exists());
    if let Ok(dir) = std::env::var("SQLITE3_LIB_DIR") {
        return has_lib(Path::new(&dir));
    }
    let pkg_config = std::process::Command::new("pkg-config").args(["--exists", "sqlite3"]).status();
    if pkg_config.is_ok_and(|status| status.success()) {
        return true;
    }
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    let multiarch = format!("/usr/lib/{arch}-linux-gnu");
    [multiarch.as_str(), "/usr/lib64", "/usr/lib", "/usr/local/lib", "/lib64", "/lib"]
        .iter()
        .any(|dir| has_lib(Path::new(dir)))
}
