//! What a script can call: `unit("ADDR")` and its methods and getters,
//! `log`, `fire`, `after`, `cancel`, `now`. Commands go through the hub's
//! one command path (stored, broadcast, numbered; the target's scripts run
//! in turn).

use std::sync::Arc;

use rhai::{Dynamic, EvalAltResult, FnPtr, Map as RhaiMap};
use serde_json::{Map, Value};

use super::runner::Ctx;
use crate::interpret::{Command, interpret};

type Result<T> = std::result::Result<T, Box<EvalAltResult>>;

/// A unit as a script holds it: its address; every getter reads the live state.
#[derive(Debug, Clone)]
pub(super) struct UnitRef {
    address: String,
}

impl UnitRef {
    /// The unit at `address` (as the hub knows it).
    pub(super) fn new(address: &str) -> Self {
        UnitRef {
            address: address.to_string(),
        }
    }
}

/// Registers the API on `engine`.
pub(super) fn register(engine: &mut rhai::Engine, ctx: &Arc<Ctx>) {
    engine.register_type_with_name::<UnitRef>("Unit");

    let c = ctx.clone();
    engine.register_fn("unit", move |name: &str| -> Result<UnitRef> {
        let hub = c.hub()?;
        hub.with_registry(|r| {
            r.by_address(name)
                .or_else(|| r.by_entity_id(name))
                .map(|u| UnitRef::new(&u.address))
        })
        .ok_or_else(|| format!("unit(\"{name}\"): no unit has this address or entity id").into())
    });

    let command = |ctx: &Arc<Ctx>, unit: &UnitRef, command: Command| -> Result<()> {
        ctx.hub()?
            .command(&unit.address, &command)
            .map(|_| ())
            .map_err(|e| e.to_string().into())
    };
    let c = ctx.clone();
    engine.register_fn("on", move |u: &mut UnitRef| command(&c, u, Command::On));
    let c = ctx.clone();
    engine.register_fn("off", move |u: &mut UnitRef| command(&c, u, Command::Off));
    let c = ctx.clone();
    engine.register_fn("toggle", move |u: &mut UnitRef| {
        let on = state(&c, u)?.state == "on";
        command(&c, u, if on { Command::Off } else { Command::On })
    });
    let c = ctx.clone();
    engine.register_fn("set", move |u: &mut UnitRef, v: Dynamic| {
        command(&c, u, interpret(Some(&v.to_string())))
    });
    let c = ctx.clone();
    engine.register_fn("attributes", move |u: &mut UnitRef, map: RhaiMap| {
        let Value::Object(attributes) = to_json(Dynamic::from_map(map))? else {
            return Err("attributes(#{…}) takes an object map".into());
        };
        command(
            &c,
            u,
            Command::Attributes {
                attributes,
                readings: Vec::new(),
            },
        )
    });

    let c = ctx.clone();
    engine.register_get("state", move |u: &mut UnitRef| {
        Ok::<_, Box<EvalAltResult>>(state(&c, u)?.state)
    });
    let c = ctx.clone();
    engine.register_get("value", move |u: &mut UnitRef| {
        let value = state(&c, u)?
            .attributes
            .get("value")
            .cloned()
            .unwrap_or(Value::Null);
        to_dynamic(&value)
    });
    let c = ctx.clone();
    engine.register_get("attributes", move |u: &mut UnitRef| {
        to_dynamic(&Value::Object(state(&c, u)?.attributes))
    });
    let c = ctx.clone();
    engine.register_get("last_changed", move |u: &mut UnitRef| {
        Ok::<_, Box<EvalAltResult>>(crate::time::ha_timestamp(&state(&c, u)?.last_changed))
    });
    engine.register_get("address", |u: &mut UnitRef| u.address.clone());

    let c = ctx.clone();
    engine.register_fn("log", move |text: &str| -> Result<()> {
        let script = c
            .running
            .lock()
            .expect("script lock")
            .as_ref()
            .map(|r| r.script.id.to_string())
            .unwrap_or_default();
        tracing::info!(script = %script, "script log: {text}");
        let data = serde_json::json!({ "script": script, "message": text });
        c.hub()?.fire_event("homebus_script_log", data);
        Ok(())
    });
    let c = ctx.clone();
    engine.register_fn(
        "fire",
        move |event_type: &str, data: RhaiMap| -> Result<()> {
            let data = to_json(Dynamic::from_map(data))?;
            c.hub()?.fire_event(event_type, data);
            Ok(())
        },
    );
    let c = ctx.clone();
    engine.register_fn("fire", move |event_type: &str| -> Result<()> {
        c.hub()?.fire_event(event_type, Value::Object(Map::new()));
        Ok(())
    });
    let c = ctx.clone();
    engine.register_fn("after", move |delay: &str, f: FnPtr| -> Result<i64> {
        let delay = humantime::parse_duration(delay.trim()).map_err(|e| {
            format!("after(\"{delay}\", …): not a duration ({e}); write e.g. \"5m\" or \"30s\"")
        })?;
        c.after(delay, f)
    });
    let c = ctx.clone();
    engine.register_fn("after", move |millis: i64, f: FnPtr| -> Result<i64> {
        let millis = u64::try_from(millis).map_err(|_| "after(ms, …) needs ms ≥ 0")?;
        c.after(std::time::Duration::from_millis(millis), f)
    });
    let c = ctx.clone();
    engine.register_fn("cancel", move |handle: i64| c.cancel(handle));
    engine.register_fn("now", || crate::time::ha_timestamp(&chrono::Utc::now()));
}

fn state(ctx: &Arc<Ctx>, unit: &UnitRef) -> Result<crate::units::EntityState> {
    ctx.hub()?
        .with_registry(|r| r.by_address(&unit.address).map(|u| u.entity_state()))
        .ok_or_else(|| format!("unit {} no longer exists", unit.address).into())
}

fn to_json(value: Dynamic) -> Result<Value> {
    rhai::serde::from_dynamic(&value)
}

fn to_dynamic(value: &Value) -> Result<Dynamic> {
    rhai::serde::to_dynamic(value)
}
