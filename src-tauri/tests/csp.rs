//! The window's content security policy: images only from the app itself and the sign-in
//! providers' avatar hosts (Weibo's sinaimg.cn, QQ's and WeChat's qlogo.cn, DingTalk's
//! static-legacy.dingtalk.com and alicdn.com), never from any HTTPS host: a picture URL a
//! provider profile carries could otherwise be a tracking pixel anywhere.

use serde_json::Value;

/// The image sources the policy (`csp` or `devCsp`) allows.
fn img_sources(policy: &str) -> Vec<String> {
    let directive = policy
        .split(';')
        .map(str::trim)
        .find(|d| d.starts_with("img-src "))
        .unwrap_or_else(|| panic!("no img-src in {policy}"));
    directive.split_whitespace().skip(1).map(str::to_string).collect()
}

#[test]
fn images_come_only_from_the_app_and_the_providers_avatar_hosts() {
    let config: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tauri.conf.json")).unwrap(),
    )
    .unwrap();
    let allowed = [
        "'self'",
        "data:",
        "asset:",
        "http://asset.localhost",
        "https://*.sinaimg.cn",
        "https://*.qlogo.cn",
        "https://static-legacy.dingtalk.com",
        "https://*.alicdn.com",
    ];
    for key in ["csp", "devCsp"] {
        let policy = config["app"]["security"][key].as_str().unwrap_or_else(|| panic!("no {key}"));
        let sources = img_sources(policy);
        for source in &sources {
            assert!(allowed.contains(&source.as_str()), "{key} allows images from {source}");
        }
        assert!(sources.iter().any(|s| s == "https://*.qlogo.cn"), "{key}: {sources:?}");
        // No other directive lets images in either.
        assert!(!policy.split(';').any(|d| d.trim().starts_with("default-src") && d.contains("https:")), "{policy}");
    }
}
