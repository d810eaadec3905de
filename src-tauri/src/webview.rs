//! The console window's web view settings that keep its memory small (issue 19, item 6; measured
//! with `scripts/console-memory.sh`, figures in ARCHITECTURE.md).
//!
//! On Linux the web view is WebKitGTK, whose defaults suit a browser: GPU compositing, which
//! without a GPU (a virtual display, a VM, a remote desktop) means Mesa's software GL (llvmpipe:
//! libLLVM mapped into the web process, and buffers per compositing layer), and the "web browser"
//! cache model (a large memory cache, a back/forward cache of whole pages). The console is one
//! page of tables, text and two small 2D-canvas charts from the app's own protocol: it needs
//! neither. Measured under Xvfb (debug build, signed in, 30 s idle), the web process held 244 MiB
//! PSS with compositing and 110 MiB without.

use tauri::{Runtime, WebviewWindow};

/// The switch WebKitGTK reads when it starts: with it set, the web process draws on the CPU and
/// never sets up GL (no libLLVM, no compositing buffers). The web view's own setting
/// (`HardwareAccelerationPolicy::Never`) cannot do this here: Tauri creates the main window and
/// starts loading the page before the app can reach its settings, and by then the web process has
/// its GL display (measured: 150 MiB with the setting applied in `setup`, 110 MiB with this).
/// Someone who wants GPU drawing sets it themselves (`WEBKIT_DISABLE_COMPOSITING_MODE=0`).
pub const DISABLE_COMPOSITING: &str = "WEBKIT_DISABLE_COMPOSITING_MODE";

/// Sets [`DISABLE_COMPOSITING`] unless it is set already (Linux only).
///
/// # Safety
/// Changes the process environment: call it before any other thread has started (first thing in
/// `run`, before the async runtime and GTK).
pub unsafe fn prefer_cpu_drawing() {
    #[cfg(target_os = "linux")]
    if std::env::var_os(DISABLE_COMPOSITING).is_none() {
        // SAFETY: the caller guarantees no other thread runs yet (no concurrent getenv).
        unsafe { std::env::set_var(DISABLE_COMPOSITING, "1") };
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
