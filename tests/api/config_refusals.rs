//! What an outside attack got past start-up, refused through the binary as
//! operators run it: exit 2, one line naming the key (or variable, or file),
//! and never a value, a file's line or a password.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

use crate::binary::{gateway, output};
use crate::helpers::TempDir;

const SECRET: &str = "proc-secret-9d2e71";

/// Runs `check-config` and then `serve` with `setup`; both must refuse the
/// same way. Returns the one stderr line.
fn refused(setup: impl Fn(&mut std::process::Command)) -> String {
    let mut lines = Vec::new();
    for args in [&["check-config"][..], &[][..]] {
        let mut c = gateway();
        c.args(args).env("ALTUR_API_KEY", SECRET);
        setup(&mut c);
        let (code, out, err) = output(&mut c);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(out.is_empty(), "nothing printed on stdout: {out}");
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
        lines.push(err.trim().to_string());
    }
    lines.swap_remove(0)
}

#[test]
fn a_fraction_for_a_whole_number_exits_2_in_both_forms() {
    let e = refused(|c| {
        c.env("ALTUR_GATEWAY__RATE_LIMIT__REQUESTS_PER_SECOND", "12.5");
    });
    assert!(
        e.contains("rate_limit.requests_per_second") && e.contains("fraction"),
        "{e}"
    );
    let dir = TempDir::new("frac");
    let file = dir.path().join("gw.toml");
    std::fs::write(&file, "[rate_limit]\nrequests_per_second = 12.5\n").expect("write");
    let e = refused(|c| {
        c.arg("--config").arg(&file);
    });
    assert!(e.contains("rate_limit.requests_per_second"), "{e}");
    assert!(
        e.contains(&file.display().to_string()),
        "names the file: {e}"
    );
}

#[test]
fn a_duration_past_a_year_exits_2() {
    for (var, value, key) in [
        (
            "ALTUR_GATEWAY__CACHE__TTL_SECONDS",
            "18446744073709551615",
            "cache.ttl_seconds",
        ),
        (
            "ALTUR_GATEWAY__CACHE__TTL_SECONDS",
            "31622401",
            "cache.ttl_seconds",
        ),
        (
            "ALTUR_GATEWAY__UPSTREAM__TIMEOUT_MS",
            "9223372036854775807",
            "upstream.timeout_ms",
        ),
        (
            "ALTUR_GATEWAY__RATE_LIMIT__MAX_WAIT_MS",
            "31622400001",
            "rate_limit.max_wait_ms",
        ),
    ] {
        let e = refused(|c| {
            c.env(var, value);
        });
        assert!(e.contains(key), "{var}={value}: {e}");
    }
}

#[test]
fn a_value_that_is_not_utf8_exits_2_naming_the_variable_not_the_value() {
    let bad = OsString::from_vec(b"30\xff\xfeSECRETBYTES".to_vec());
    let e = refused(|c| {
        c.env("ALTUR_GATEWAY__CACHE__TTL_SECONDS", &bad);
    });
    assert!(
        e.contains("ALTUR_GATEWAY__CACHE__TTL_SECONDS") && e.contains("UTF-8"),
        "{e}"
    );
    assert!(!e.contains("SECRETBYTES"), "{e}");
    // The key itself: set, so not "missing", and not shown.
    let (code, _, err) = output(gateway().arg("check-config").env("ALTUR_API_KEY", &bad));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("ALTUR_API_KEY") && err.contains("UTF-8"),
        "{err}"
    );
    assert!(!err.contains("SECRETBYTES"), "{err}");
    // Somebody else's variable is none of our business.
    let (code, _, err) = output(
        gateway()
            .arg("check-config")
            .env("ALTUR_API_KEY", SECRET)
            .env("LC_SOMETHING", &bad),
    );
    assert_eq!(code, 0, "{err}");
}

#[test]
fn a_redis_url_serve_cannot_use_exits_2_without_its_password() {
    for key in ["CACHE__REDIS_URL", "RATE_LIMIT__REDIS_URL"] {
        let e = refused(|c| {
            c.env("ALTUR_GATEWAY__RATE_LIMIT__BACKEND", "redis")
                .env(
                    "ALTUR_GATEWAY__RATE_LIMIT__REDIS_URL",
                    "redis://127.0.0.1:6379",
                )
                .env(
                    format!("ALTUR_GATEWAY__{key}"),
                    "redis://:pw-5ecret@127.0.0.1:99999",
                );
        });
        assert!(e.contains(&key.to_lowercase().replace("__", ".")), "{e}");
        assert!(!e.contains("pw-5ecret"), "{e}");
    }
    let (code, out, err) = output(
        gateway()
            .arg("check-config")
            .env("ALTUR_API_KEY", SECRET)
            .env(
                "ALTUR_GATEWAY__CACHE__REDIS_URL",
                "redis://:pw-5ecret@127.0.0.1:6379/1",
            ),
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("redis://[REDACTED]@127.0.0.1:6379/1"), "{out}");
    assert!(
        !out.contains("pw-5ecret") && !err.contains("pw-5ecret"),
        "{out}"
    );
}

/// A line no configuration has, recognisable wherever it leaks.
const SHADOW: &str = "root:$6$rounds=5000$LEAKED-c4f3b4b3$Q9:19700:0:99999:7:::\n";

#[test]
fn a_wrong_file_is_named_and_never_echoed() {
    let dir = TempDir::new("shadow");
    let shadow = dir.path().join("shadow");
    std::fs::write(&shadow, SHADOW).expect("write");
    let e = refused(|c| {
        c.arg("--config").arg(&shadow);
    });
    assert!(
        e.contains(&shadow.display().to_string()) && e.contains("line 1"),
        "{e}"
    );
    assert!(!e.contains("LEAKED") && !e.contains("root"), "{e}");

    let e = refused(|c| {
        c.env("ALTUR_GATEWAY__CALLERS__FILE", &shadow);
    });
    assert!(
        e.contains("callers.file") && e.contains(&shadow.display().to_string()),
        "{e}"
    );
    assert!(!e.contains("LEAKED") && !e.contains("root"), "{e}");

    // Valid TOML holding a secret where a number is meant.
    let toml = dir.path().join("gw.toml");
    std::fs::write(&toml, "[cache]\nttl_seconds = \"LEAKED-c4f3b4b3\"\n").expect("write");
    let e = refused(|c| {
        c.arg("--config").arg(&toml);
    });
    assert!(
        e.contains("cache.ttl_seconds") && !e.contains("LEAKED"),
        "{e}"
    );
    let callers = dir.path().join("callers.toml");
    std::fs::write(
        &callers,
        "[[caller]]\nname = \"billing\"\ntoken_sha256 = \"LEAKED-c4f3b4b3\"\n",
    )
    .expect("write");
    let e = refused(|c| {
        c.env("ALTUR_GATEWAY__CALLERS__FILE", &callers);
    });
    assert!(e.contains("token_sha256") && !e.contains("LEAKED"), "{e}");
}
