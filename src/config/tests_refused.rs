//! What an outside attack found the loader accepting, each refused now:
//! fractions for whole numbers, durations past a year, values that are not
//! UTF-8, Redis URLs `serve` could not use, and errors that echoed a file.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

use super::*;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn var(key: &str) -> String {
    format!("ALTUR_GATEWAY__{}", key.replace('.', "__").to_uppercase())
}

/// A config file in a directory removed on drop.
struct TempFile {
    dir: PathBuf,
    path: PathBuf,
}

impl TempFile {
    fn new(name: &str, text: &str) -> TempFile {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("altur-cfg-r-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join(name);
        std::fs::write(&path, text).expect("write");
        TempFile { dir, path }
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `key = value` written in the file, under its section's header.
fn file_setting(key: &str, value: &str) -> String {
    let (section, leaf) = key.rsplit_once('.').expect("sectioned");
    format!("[{section}]\n{leaf} = {value}\n")
}

fn file_err(text: &str) -> (String, String) {
    let f = TempFile::new("c.toml", text);
    let e = Settings::load_from(Some(&f.path), env(&[]))
        .expect_err("must be refused")
        .to_string();
    (e, f.path.display().to_string())
}

#[test]
fn a_fraction_is_refused_for_every_whole_number_key_in_both_forms() {
    let keys = schema::int_keys();
    assert!(keys.len() >= 15, "{keys:?}");
    for key in &keys {
        for value in ["12.5", "1e3", "true"] {
            let e = Settings::load_from(None, env(&[(&var(key), value)]))
                .expect_err(key)
                .to_string();
            assert!(
                e.contains(key.as_str()) && e.contains(&var(key)),
                "{key}={value}: {e}"
            );
            assert!(!e.contains('\n'), "{e}");
        }
        let (e, path) = file_err(&file_setting(key, "12.5"));
        assert!(e.contains(key.as_str()) && e.contains(&path), "{key}: {e}");
        assert!(e.contains("fraction"), "{e}");
    }
    // The finding itself: 12.5 used to be read as 13, over Altur's limit.
    let e = Settings::load_from(
        None,
        env(&[("ALTUR_GATEWAY__RATE_LIMIT__REQUESTS_PER_SECOND", "12.5")]),
    )
    .expect_err("12.5 is no whole number")
    .to_string();
    assert!(
        e.contains("rate_limit.requests_per_second") && e.contains("fraction"),
        "{e}"
    );
}

#[test]
fn whole_numbers_still_load_exactly() {
    let s = Settings::load_from(
        None,
        env(&[
            ("ALTUR_GATEWAY__RATE_LIMIT__REQUESTS_PER_SECOND", "11"),
            ("ALTUR_GATEWAY__UPSTREAM__API_KEY_FILE", "007"),
            ("ALTUR_GATEWAY__LOG__FORMAT", "json"),
        ]),
    )
    .expect("valid");
    assert_eq!(s.rate_limit.requests_per_second.get(), 11);
    assert_eq!(
        s.upstream.api_key_file.as_deref(),
        Some(std::path::Path::new("007")),
        "a string stays as written (it used to become 7)"
    );
    let f = TempFile::new("ok.toml", "[rate_limit]\nrequests_per_second = 10\n");
    let s = Settings::load_from(Some(&f.path), env(&[])).expect("valid");
    assert_eq!(s.rate_limit.requests_per_second.get(), 10);
}

const YEAR_S: u64 = 366 * 24 * 3600;

#[test]
fn every_duration_is_refused_beyond_a_year_and_accepted_at_one() {
    for (key, year) in [
        ("upstream.timeout_ms", YEAR_S * 1000),
        ("rate_limit.max_wait_ms", YEAR_S * 1000),
        ("server.header_timeout_ms", YEAR_S * 1000),
        ("server.idle_timeout_ms", YEAR_S * 1000),
        ("cache.ttl_seconds", YEAR_S),
        ("cache.negative_ttl_seconds", YEAR_S),
        ("cache.stale_if_error_seconds", YEAR_S),
        ("cache.routes.call.ttl_seconds", YEAR_S),
        ("cache.routes.enduser.negative_ttl_seconds", YEAR_S),
    ] {
        assert!(
            Settings::load_from(None, env(&[(&var(key), &year.to_string())])).is_ok(),
            "{key} = a year is fine"
        );
        for value in [
            (year + 1).to_string(),
            i64::MAX.to_string(),
            u64::MAX.to_string(),
        ] {
            let e = Settings::load_from(None, env(&[(&var(key), &value)]))
                .expect_err(key)
                .to_string();
            assert!(e.contains(key), "{key}={value}: {e}");
        }
        let (e, path) = file_err(&file_setting(key, &(year + 1).to_string()));
        assert!(e.contains(key) && e.contains("year"), "{key}: {e} ({path})");
    }
    let e = Settings::load_from(None, env(&[(&var("rate_limit.margin_ms"), "1001")]))
        .expect_err("margin")
        .to_string();
    assert!(e.contains("rate_limit.margin_ms"), "{e}");
    // u64::MAX in a file is no TOML integer at all: the key is still named.
    let (e, path) = file_err("[cache]\nttl_seconds = 18446744073709551615\n");
    assert!(
        e.contains("ttl_seconds") && e.contains(&path) && e.contains("line 2"),
        "{e}"
    );
}

#[test]
fn a_value_that_is_not_utf8_names_its_variable_only() {
    let bad = OsString::from_vec(b"12\xff\xfeSECRET".to_vec());
    let e = schema::utf8_env([
        (OsString::from("PATH"), OsString::from("/bin")),
        (
            OsString::from("ALTUR_GATEWAY__CACHE__TTL_SECONDS"),
            bad.clone(),
        ),
    ])
    .expect_err("not UTF-8")
    .to_string();
    assert!(
        e.contains("ALTUR_GATEWAY__CACHE__TTL_SECONDS") && e.contains("UTF-8"),
        "{e}"
    );
    assert!(!e.contains("SECRET") && !e.contains("12"), "{e}");
    // Someone else's variable is not ours to judge.
    let ok = schema::utf8_env([
        (OsString::from("OTHER"), bad),
        (OsString::from_vec(b"X\xff".to_vec()), OsString::from("1")),
        (
            OsString::from("ALTUR_GATEWAY__CACHE__TTL_SECONDS"),
            OsString::from("7"),
        ),
    ])
    .expect("only ours is read");
    assert_eq!(ok, env(&[("ALTUR_GATEWAY__CACHE__TTL_SECONDS", "7")]));
    let e = schema::utf8_env([(
        OsString::from_vec(b"ALTUR_GATEWAY__CACHE__\xff".to_vec()),
        OsString::from("1"),
    )])
    .expect_err("a name that is not UTF-8")
    .to_string();
    assert!(e.contains("name is not valid UTF-8"), "{e}");
}

#[test]
fn a_redis_url_serve_could_not_use_is_refused_at_load_without_its_password() {
    for key in ["cache.redis_url", "rate_limit.redis_url"] {
        for url in [
            "redis://:hunter2-pw@127.0.0.1:99999",
            "redis://:hunter2-pw@127.0.0.1:0",
            "rediss://:hunter2-pw@127.0.0.1:6379",
            "redis://:hunter2-pw@/0",
        ] {
            let e = Settings::load_from(None, env(&[(&var(key), url)]))
                .expect_err(url)
                .to_string();
            assert!(e.contains(key), "{url}: {e}");
            assert!(!e.contains("hunter2"), "{e}");
        }
    }
    let s = Settings::load_from(
        None,
        env(&[
            ("ALTUR_GATEWAY__RATE_LIMIT__BACKEND", "redis"),
            (
                "ALTUR_GATEWAY__RATE_LIMIT__REDIS_URL",
                "redis://gw:hunter2-pw@10.0.0.5:6379/0",
            ),
            (
                "ALTUR_GATEWAY__CACHE__REDIS_URL",
                "redis://:hunter2-pw@10.0.0.5:6379/1",
            ),
        ]),
    )
    .expect("valid");
    assert_eq!(
        s.rate_limit.redis_url.as_deref(),
        Some("redis://gw:hunter2-pw@10.0.0.5:6379/0"),
        "the client gets the password"
    );
    let shown = format!("{}\n{s:?}", s.to_toml());
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(
        shown.contains("redis://[REDACTED]@10.0.0.5:6379/1"),
        "{shown}"
    );
}

const SECRET_LINE: &str = "root:$6$SECRET-c0ffee-9f2e:19700:0:99999:7:::";

#[test]
fn errors_about_a_file_never_echo_what_it_holds() {
    for text in [
        format!("{SECRET_LINE}\n"),
        format!("# ok\n[cache]\nttl_seconds = 5\n{SECRET_LINE}\n"),
        "[cache]\nttl_seconds = \"SECRET-c0ffee\"\n".to_string(),
        "[cache]\nSECRET-c0ffee = 1\n".to_string(),
        "[upstream]\nbase_url = \"SECRET-c0ffee\"\n".to_string(),
        "[log]\nformat = \"SECRET-c0ffee\"\n".to_string(),
        "[cache.routes.\"SECRET-c0ffee\"]\nttl_seconds = 1\n".to_string(),
        "[callers]\nanonymous_scopes = [\"SECRET-c0ffee\"]\n".to_string(),
        "listen = \"SECRET-c0ffee\"\n".to_string(),
        "[cache]\nredis_url = \"redis://:SECRET-c0ffee@h:99999\"\n".to_string(),
        "x = \"\"\"SECRET-c0ffee\n".to_string(),
    ] {
        let (e, path) = file_err(&text);
        assert!(!e.contains("c0ffee") && !e.contains("root"), "{text}: {e}");
        assert!(!e.contains('\n'), "{e}");
        assert!(
            e.contains(&path) || e.contains('`'),
            "names the file or the key: {e}"
        );
    }
    // Not UTF-8, and not a regular file.
    let f = TempFile::new("bin.toml", "");
    std::fs::write(&f.path, b"[cache]\nttl_seconds = 1\n\xff\xfeSECRET").expect("write");
    let e = Settings::load_from(Some(&f.path), env(&[]))
        .expect_err("binary")
        .to_string();
    assert!(e.contains("UTF-8") && !e.contains("SECRET"), "{e}");
    let e = Settings::load_from(Some(std::path::Path::new("/dev/zero")), env(&[]))
        .expect_err("a device")
        .to_string();
    assert!(e.contains("/dev/zero") && e.contains("regular"), "{e}");
}

#[test]
fn a_secret_in_the_wrong_variable_is_not_echoed() {
    for (k, v) in [
        ("ALTUR_GATEWAY__CACHE__TTL_SECONDS", "sk-live-SECRET"),
        (
            "ALTUR_GATEWAY__CACHE__ROUTES__X__TTL_SECONDS",
            "sk-live-SECRET",
        ),
        ("ALTUR_GATEWAY__LISTEN", "sk-live-SECRET"),
        (
            "ALTUR_GATEWAY__CALLERS__ANONYMOUS_SCOPES",
            "read,sk-live-SECRET",
        ),
        ("ALTUR_GATEWAY__API_KEY", "sk-live-SECRET"),
    ] {
        let e = Settings::load_from(None, env(&[(k, v)]))
            .expect_err(k)
            .to_string();
        assert!(!e.contains("SECRET"), "{k}: {e}");
    }
}
