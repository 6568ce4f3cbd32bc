//! What the pipeline's unit tests share: a runtime to block on, and stack settings.

use std::collections::BTreeMap;
use std::time::Duration;

use shipit_core::settings::StackSettings;

pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// Stack `site` with the template's defaults and a short timeout.
pub fn stack_settings() -> StackSettings {
    StackSettings {
        name: "site".into(),
        template: None,
        parameters: BTreeMap::new(),
        allow_replace: false,
        recreate: false,
        timeout: Duration::from_secs(5),
        role_arn: None,
        task_secrets: Vec::new(),
    }
}
