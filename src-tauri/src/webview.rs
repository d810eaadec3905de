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
/// - `GLIBC_TUNABLES`: the web and network processes' C allocator keeps at most two arenas and
///   gives free memory at the top of its heap back above 128 KiB, as [`lean_malloc`] makes the
///   app's own (glibc reads this only when a process starts, so it reaches the processes the app
///   starts). The web process's heap swung between 6 and 13 MiB from page to page; 3-minute
///   runs: web process PSS after the soak 151.5 -> 146.7 MiB.
pub const LEAN_ENGINE_ENV: &[(&str, &str)] = &[
    ("WEBKIT_DISABLE_COMPOSITING_MODE", "1"),
    ("JSC_useJIT", "false"),
    ("GLIBC_TUNABLES", "glibc.malloc.arena_max=2:glibc.malloc.trim_threshold=131072"),
];

/// The app process's allocator, as `GLIBC_TUNABLES` in [`LEAN_ENGINE_ENV`] sets its children's:
/// at most two arenas (not eight per core, one per async worker that allocates) and free memory
/// at the top of a heap returned above 128 KiB. The app grew about 0.2 MiB a minute in small
/// anonymous mappings, where the arenas are. Linux with glibc only.
pub fn lean_malloc() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes the allocator's parameters; it takes its own lock.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 128 * 1024);
    }
}

/// With the drawing on the CPU, the app process needs no GL at all, yet three things in it would
/// still start one, each loading Mesa's driver and its libLLVM (about 20 MiB in the app process
/// alone; the release build's app process: PSS 99.5 -> 79 MiB without them, found with gdb's
/// `catch load swrast_dri`):
///
/// - `GDK_GL=disable`: GTK 3 probes GLX when it opens the X display, for its GL visuals.
/// - `WEBKIT_DISABLE_DMABUF_RENDERER=1`: the DMA-BUF renderer hands composited frames from the
///   web process to the app; with no compositing there are none, but it still sets up its EGL side.
/// - `WEBKIT_WEB_RENDER_DEVICE_FILE`: before starting the web process, WebKit opens an EGL
///   display in the app only to learn which GPU device node the web process should render with.
///   Naming a device here skips that; the web process, drawing on the CPU, never opens it. The
///   name is a placeholder that is no device, so a mistake shows rather than picking a GPU.
///
/// Set only when the drawing is on the CPU: a user who turns compositing back on
/// (`WEBKIT_DISABLE_COMPOSITING_MODE=0`) gets GL as WebKit sets it up.
pub const NO_GL_ENV: &[(&str, &str)] = &[
    ("GDK_GL", "disable"),
    ("WEBKIT_DISABLE_DMABUF_RENDERER", "1"),
    ("WEBKIT_WEB_RENDER_DEVICE_FILE", "/dev/dri/none-opsdeck-draws-on-the-cpu"),
];

/// What [`lean_engine`] sets, given how the environment reads now: each of [`LEAN_ENGINE_ENV`]
/// the user has not set, and each of [`NO_GL_ENV`] likewise when the drawing ends up on the CPU.
pub fn lean_engine_env(get: impl Fn(&str) -> Option<String>) -> Vec<(&'static str, &'static str)> {
    let mut set: Vec<_> = LEAN_ENGINE_ENV.iter().copied().filter(|(name, _)| get(name).is_none()).collect();
    let on_cpu = get("WEBKIT_DISABLE_COMPOSITING_MODE").is_none_or(|v| v != "0");
    if on_cpu {
        set.extend(NO_GL_ENV.iter().copied().filter(|(name, _)| get(name).is_none()));
    }
    set
}

/// Sets [`lean_engine_env`] (Linux only). The web process inherits the app's environment.
///
/// # Safety
/// Changes the process environment: call it before any other thread has started (first thing in
/// `run`, before the async runtime and GTK).
pub unsafe fn lean_engine() {
    #[cfg(target_os = "linux")]
    for (name, value) in lean_engine_env(|name| std::env::var_os(name).map(|v| v.to_string_lossy().into_owned())) {
        // SAFETY: the caller guarantees no other thread runs yet (no concurrent getenv).
        unsafe { std::env::set_var(name, value) };
    }
}

/// The web process's memory limit in MiB, for WebKit's memory-pressure handler (see
/// [`watch_memory`]); `OPSDECK_WEBVIEW_MEMORY_LIMIT_MB` overrides it, 0 leaves WebKit's default
/// (its limit is then the machine's RAM up to 3 GiB: on a desktop the handler never acts).
pub const WEB_MEMORY_LIMIT_MB: u32 = 96;
/// How often the web process compares its memory with the limit, in seconds.
const WEB_MEMORY_POLL_SECONDS: f64 = 10.0;

/// Makes WebKit's own memory-pressure handler keep the console's web process small. Every
/// [`WEB_MEMORY_POLL_SECONDS`] the web process measures its private memory; above a third of
/// [`WEB_MEMORY_LIMIT_MB`] it drops what it only keeps for speed (decoded images and fonts beyond
/// those in use, the memory cache, style caches) and gives freed heap pages back to the system
/// (`malloc_trim`, its own allocator's scavenger); above half it also collects JavaScript garbage
/// at once and drops compiled code. A browser keeps all that to switch tabs fast; the console
/// rebuilds a page from its own small scripts in well under a frame. The limit never kills the
/// process (no kill threshold is set).
///
/// WebKitGTK takes these settings only when its web context is constructed (a construct-only
/// property, `memory-pressure-settings`), and Tauri (wry) constructs the context itself without
/// a way to pass them. So this sets them from inside: it overrides the context class's
/// `constructed` step (GObject's documented class-override mechanism, what a subclass does) to set
/// the property through the class's own `set_property` just before WebKit's step reads it, then
/// runs WebKit's step. The network process has a public setting for the same, applied too.
/// Nothing changes if WebKit lacks the property (older than 2.34).
///
/// Call it once, on the main thread, before the window is created. Linux only.
pub fn watch_memory() {
    #[cfg(target_os = "linux")]
    linux::watch_memory(web_memory_limit_mb());
}

/// [`WEB_MEMORY_LIMIT_MB`], or `OPSDECK_WEBVIEW_MEMORY_LIMIT_MB` when set to a whole number.
fn web_memory_limit_mb() -> u32 {
    match std::env::var("OPSDECK_WEBVIEW_MEMORY_LIMIT_MB") {
        Ok(text) => text.trim().parse().unwrap_or_else(|_| {
            tracing::warn!(value = %text, "OPSDECK_WEBVIEW_MEMORY_LIMIT_MB must be a whole number of MiB, e.g. 96 (0: WebKit's default); using {WEB_MEMORY_LIMIT_MB}");
            WEB_MEMORY_LIMIT_MB
        }),
        Err(_) => WEB_MEMORY_LIMIT_MB,
    }
}

#[cfg(target_os = "linux")]
mod linux {
    use std::sync::OnceLock;

    use webkit2gtk::WebContext;
    use webkit2gtk::ffi::{self as webkit, WebKitMemoryPressureSettings};
    use webkit2gtk::glib::StaticType;
    use webkit2gtk::glib::gobject_ffi::{self, GObject, GObjectClass, GParamSpec, GValue};
    use webkit2gtk::glib::translate::IntoGlib;

    type Constructed = unsafe extern "C" fn(*mut GObject);

    /// WebKit's own `constructed` step of the web context class, and the settings to give it.
    static WEBKIT_CONSTRUCTED: OnceLock<(Constructed, Settings)> = OnceLock::new();

    /// The settings, made once and kept for the life of the process. Through the C API: the Rust
    /// binding refuses to run before GTK is initialised, which Tauri does later, just before it
    /// creates the window.
    struct Settings(*mut WebKitMemoryPressureSettings);
    // SAFETY: a plain struct of numbers, never changed or freed after it is made; WebKit copies it.
    unsafe impl Send for Settings {}
    unsafe impl Sync for Settings {}

    fn settings(limit_mb: u32) -> Settings {
        // SAFETY: WebKit's constructor and setters on the struct it returned.
        unsafe {
            let settings = webkit::webkit_memory_pressure_settings_new();
            webkit::webkit_memory_pressure_settings_set_memory_limit(settings, limit_mb);
            webkit::webkit_memory_pressure_settings_set_poll_interval(settings, super::WEB_MEMORY_POLL_SECONDS);
            Settings(settings)
        }
    }

    pub fn watch_memory(limit_mb: u32) {
        if limit_mb == 0 || WEBKIT_CONSTRUCTED.get().is_some() {
            return;
        }
        let network = settings(limit_mb);
        // SAFETY: WebKit copies the settings; ours are freed after.
        unsafe {
            webkit::webkit_website_data_manager_set_memory_pressure_settings(network.0);
            webkit::webkit_memory_pressure_settings_free(network.0);
        }
        // SAFETY: GObject's class override: the class struct is WebKit's, referenced for the life
        // of the process (never unreferenced), patched on the main thread before any instance
        // exists; `with_pressure_settings` chains to WebKit's step with the same object.
        unsafe {
            let class = gobject_ffi::g_type_class_ref(WebContext::static_type().into_glib()) as *mut GObjectClass;
            if class.is_null() || property(class).is_null() {
                tracing::warn!(
                    "this WebKitGTK has no memory-pressure settings; the web view keeps its default memory limit"
                );
                return;
            }
            let Some(original) = (*class).constructed else { return };
            if WEBKIT_CONSTRUCTED.set((original, settings(limit_mb))).is_ok() {
                (*class).constructed = Some(with_pressure_settings);
            }
        }
    }

    /// The context class's `memory-pressure-settings` property, or null.
    unsafe fn property(class: *mut GObjectClass) -> *mut GParamSpec {
        // SAFETY: a valid class struct (the caller's), a NUL-terminated name.
        unsafe { gobject_ffi::g_object_class_find_property(class, c"memory-pressure-settings".as_ptr()) }
    }

    /// The patched `constructed`: sets the settings, then runs WebKit's own step, which reads them.
    unsafe extern "C" fn with_pressure_settings(object: *mut GObject) {
        let Some((original, settings)) = WEBKIT_CONSTRUCTED.get() else { return };
        // SAFETY: `object` is a web context under construction (this step is only installed on its
        // class); the property belongs to that class, whose `set_property` takes a value of its
        // type; the value is initialised, set (WebKit copies the boxed settings) and unset here.
        unsafe {
            let class = gobject_ffi::g_type_class_peek(WebContext::static_type().into_glib()) as *mut GObjectClass;
            let pspec = property(class);
            if let (false, Some(set_property)) = (pspec.is_null(), (*class).set_property) {
                let mut value: GValue = std::mem::zeroed();
                gobject_ffi::g_value_init(&mut value, webkit::webkit_memory_pressure_settings_get_type());
                gobject_ffi::g_value_set_boxed(&mut value, settings.0 as *const _);
                set_property(object, (*pspec).param_id, &mut value, pspec);
                gobject_ffi::g_value_unset(&mut value);
            }
            original(object);
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

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn with_nothing_set_the_engine_draws_on_the_cpu_and_no_gl_starts() {
        let set = lean_engine_env(env(&[]));
        for pair in LEAN_ENGINE_ENV.iter().chain(NO_GL_ENV) {
            assert!(set.contains(pair), "{pair:?} missing from {set:?}");
        }
        assert_eq!(set.len(), LEAN_ENGINE_ENV.len() + NO_GL_ENV.len());
    }

    #[test]
    fn what_the_user_set_is_kept() {
        let set = lean_engine_env(env(&[("JSC_useJIT", "true"), ("GDK_GL", "always")]));
        assert!(set.iter().all(|(name, _)| *name != "JSC_useJIT" && *name != "GDK_GL"), "{set:?}");
        assert!(set.contains(&("WEBKIT_DISABLE_COMPOSITING_MODE", "1")));
        assert!(set.contains(&("WEBKIT_WEB_RENDER_DEVICE_FILE", NO_GL_ENV[2].1)));
    }

    #[test]
    fn compositing_turned_back_on_keeps_gl_as_webkit_sets_it_up() {
        let set = lean_engine_env(env(&[("WEBKIT_DISABLE_COMPOSITING_MODE", "0")]));
        let rest: Vec<_> =
            LEAN_ENGINE_ENV.iter().copied().filter(|(name, _)| *name != "WEBKIT_DISABLE_COMPOSITING_MODE").collect();
        assert_eq!(set, rest);
        assert!(set.iter().all(|pair| !NO_GL_ENV.contains(pair)), "{set:?}");
    }
}
