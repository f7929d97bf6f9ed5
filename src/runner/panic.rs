//! Catching protocol panics as findings.
//!
//! A panic or failed assertion inside a node's handler is a bug in the protocol
//! under test, found under a specific seed. The runner catches it and reports it
//! like any other violation, with the process, the virtual time and the event
//! index. While a simulation runs on a thread, the default panic message is
//! suppressed (it would otherwise interleave with the report) and kept instead.

use std::cell::RefCell;
use std::panic;
use std::sync::Once;

thread_local! {
    static CAPTURING: RefCell<bool> = const { RefCell::new(false) };
    static CAPTURED: RefCell<Option<String>> = const { RefCell::new(None) };
}

static INSTALL: Once = Once::new();

fn install_hook() {
    INSTALL.call_once(|| {
        let default = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            let capturing = CAPTURING.with(|flag| *flag.borrow());
            if capturing {
                let location = info
                    .location()
                    .map(|l| format!(" at {}:{}", l.file(), l.line()))
                    .unwrap_or_default();
                let payload = info.payload();
                let message = payload
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "a non-string panic payload".into());
                CAPTURED.with(|slot| *slot.borrow_mut() = Some(format!("{message}{location}")));
            } else {
                default(info);
            }
        }));
    });
}

/// Runs `body`, turning a panic into `Err(message with location)`.
pub fn catch<T>(body: impl FnOnce() -> T) -> Result<T, String> {
    install_hook();
    CAPTURING.with(|flag| *flag.borrow_mut() = true);
    CAPTURED.with(|slot| *slot.borrow_mut() = None);
    let result = panic::catch_unwind(panic::AssertUnwindSafe(body));
    CAPTURING.with(|flag| *flag.borrow_mut() = false);
    result.map_err(|_| {
        CAPTURED
            .with(|slot| slot.borrow_mut().take())
            .unwrap_or_else(|| "panic".into())
    })
}
