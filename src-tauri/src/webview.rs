//! The console window's web view settings that keep its memory small (issue 19, item 6; measured
//! with `scripts/console-memory.sh`, the figures in the README, "Measuring the console's memory").
//!
//! On Linux the web view is WebKitGTK, whose defaults suit a browser: GPU compositing (without a
//! GPU, as on a virtual display, a VM or a remote desktop, Mesa's software GL), a JavaScript JIT in
//! three tiers, the "web browser" cache model (a large memory cache, a back/forward cache of whole
//! pages). The console is one page of tables, text and two small 2D-canvas charts from the app's
//! own protocol: it needs none of them.

use tauri::{Runtime, WebviewWindow};

/// What the web engine reads from the environment when it starts, set by [`lean_engine`] unless
/// the user set them (e.g. `WEBKIT_DISABLE_COMPOSITING_MODE=0` for GPU drawing, `JSC_useJIT=true`).
/// Measured under Xvfb with `scripts/console-memory.sh` (release build, web process RSS after
/// sign-in and 20 s idle -> after 40 page visits; the README has a whole run):
///
/// - `WEBKIT_DISABLE_COMPOSITING_MODE=1`: the web process draws on the CPU, with no compositing
///   layers and their GL buffers (Mesa's llvmpipe without a GPU). The web view's own setting
///   (`HardwareAccelerationPolicy::Never`) cannot do this here: Tauri creates the main window and
///   starts loading the page before the app can reach its settings, and by then the web process has
///   composited (debug build, PSS: 244 MiB by default, 150 MiB with the setting applied in `setup`,
///   110 MiB with this).
/// - `JSC_useJIT=false`: JavaScriptCore interprets (its LLInt) instead of compiling hot code in
///   three tiers. Each page visited compiled more code and pulled more of the engine's compiler
///   into memory: 224 -> 272 MiB with the JIT, 198 -> 216 MiB without. The console's scripts are
///   small (Vue rendering a 50-row table, Chart.js drawing 60 points): interpreted, a page still
///   switches at once.
pub const LEAN_ENGINE_ENV: &[(&str, &str)] = &[("WEBKIT_DISABLE_COMPOSITING_MODE", "1"), ("JSC_useJIT", "false")];

/// Sets each of [`LEAN_ENGINE_ENV`] that is not set already (Linux only). The web process inherits
/// the app's environment.
///
/// # Safety
/// Changes the process environment: call it before any other thread has started (first thing in
/// `run`, before the async runtime and GTK).
pub unsafe fn lean_engine() {
    #[cfg(target_os = "linux")]
    for (name, value) in LEAN_ENGINE_ENV {
        if std::env::var_os(name).is_none() {
            // SAFETY: the caller guarantees no other thread runs yet (no concurrent getenv).
            unsafe { std::env::set_var(name, value) };
        }
    }
}

/// No back/forward cache of whole pages (the console is one page that changes its hash) and
/// WebKit's smallest memory cache (the console's files come from the app's own protocol at once:
/// nothing is worth keeping decoded). Linux only; elsewhere the system web view's defaults stay.
/// A failure is logged: the console works either way, only larger.
pub fn tune<R: Runtime>(window: &WebviewWindow<R>) {
    #[cfg(target_os = "linux")]
    {
        let applied = window.with_webview(|webview| {
            use webkit2gtk::{CacheModel, SettingsExt, WebContextExt, WebViewExt};
            let view = webview.inner();
            if let Some(settings) = WebViewExt::settings(&view) {
                settings.set_enable_page_cache(false);
            }
            if let Some(context) = view.context() {
                context.set_cache_model(CacheModel::DocumentViewer);
            }
        });
        if let Err(e) = applied {
            tracing::warn!(error = %e, "cannot apply the web view's memory settings");
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = window;
}
