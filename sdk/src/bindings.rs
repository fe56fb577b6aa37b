//! Guest bindings generated from the SDK's copy of the contract (`sdk/wit/`, identical to the
//! repository's `wit/`, which a test checks): one module per world, sharing the host-services types.
//! The SDK builds plugins of the current contract, `upshift:plugin@0.2.0`.
//!
//! Plugin authors never touch this module; the traits and export macros of the crate root use it.

/// The imports every plugin gets (log, clock, state) and the shared `types` interface.
pub mod host {
    wit_bindgen::generate!({
        path: "wit",
        world: "upshift:plugin/host-services@0.2.0",
        runtime_path: "::upshift_sdk::__private::wit_bindgen::rt",
        generate_all,
    });
}

/// The `target-plugin` world.
pub mod target {
    wit_bindgen::generate!({
        path: "wit",
        world: "upshift:plugin/target-plugin@0.2.0",
        runtime_path: "::upshift_sdk::__private::wit_bindgen::rt",
        pub_export_macro: true,
        export_macro_name: "__export_target_world",
        with: {
            "upshift:plugin/types@0.2.0": crate::bindings::host::upshift::plugin::types,
            "upshift:plugin/log@0.2.0": crate::bindings::host::upshift::plugin::log,
            "upshift:plugin/clock@0.2.0": crate::bindings::host::upshift::plugin::clock,
            "upshift:plugin/state@0.2.0": crate::bindings::host::upshift::plugin::state,
            "upshift:plugin/sql@0.2.0": crate::bindings::host::upshift::plugin::sql,
        },
    });
}

/// The `verifier-plugin` world.
pub mod verifier {
    wit_bindgen::generate!({
        path: "wit",
        world: "upshift:plugin/verifier-plugin@0.2.0",
        runtime_path: "::upshift_sdk::__private::wit_bindgen::rt",
        pub_export_macro: true,
        export_macro_name: "__export_verifier_world",
        with: {
            "upshift:plugin/types@0.2.0": crate::bindings::host::upshift::plugin::types,
            "upshift:plugin/log@0.2.0": crate::bindings::host::upshift::plugin::log,
            "upshift:plugin/clock@0.2.0": crate::bindings::host::upshift::plugin::clock,
            "upshift:plugin/state@0.2.0": crate::bindings::host::upshift::plugin::state,
            "upshift:plugin/sql@0.2.0": crate::bindings::host::upshift::plugin::sql,
        },
    });
}

/// The `strategy-plugin` world.
pub mod strategy {
    wit_bindgen::generate!({
        path: "wit",
        world: "upshift:plugin/strategy-plugin@0.2.0",
        runtime_path: "::upshift_sdk::__private::wit_bindgen::rt",
        pub_export_macro: true,
        export_macro_name: "__export_strategy_world",
        with: {
            "upshift:plugin/types@0.2.0": crate::bindings::host::upshift::plugin::types,
            "upshift:plugin/log@0.2.0": crate::bindings::host::upshift::plugin::log,
            "upshift:plugin/clock@0.2.0": crate::bindings::host::upshift::plugin::clock,
            "upshift:plugin/state@0.2.0": crate::bindings::host::upshift::plugin::state,
            "upshift:plugin/sql@0.2.0": crate::bindings::host::upshift::plugin::sql,
        },
    });
}
