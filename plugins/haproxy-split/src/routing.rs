//! What this target routes on an HAProxy backend: the two servers' weights and, when the config asks
//! for them, the preview route (a header value in an ACL file) and the sticky cohort's share (a key
//! in a map file). Read from the runtime API, set through it, and kept in the plugin's state as one
//! line (`100 0 preview=off cohort=none`) so that a rollback can tell whether the backend still has
//! what this rollout set.

use upshift_sdk::PluginError;

use crate::Config;
use crate::admin::{change, command, parse_acl, parse_map, parse_weight};

/// Everything this target routes. `preview` and `cohort` are `None` when the config has none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Routing {
    pub stable: u32,
    pub canary: u32,
    /// Whether the preview header's value is in the ACL.
    pub preview: Option<bool>,
    /// The cohort's share in percent, `Some(None)` when the map has no such key.
    pub cohort: Option<Option<u32>>,
}

/// Weights `(stable, canary)` that put `percent` of the traffic on the canary.
pub fn weights(percent: u8) -> (u8, u8) {
    let canary = percent.min(100);
    (100 - canary, canary)
}

/// The canary's share of the traffic, in percent, from the two weights (`None` when both are 0).
pub fn canary_percent(stable: u32, canary: u32) -> Option<u8> {
    let total = stable + canary;
    (total > 0)
        .then(|| u8::try_from((u64::from(canary) * 100 + u64::from(total) / 2) / u64::from(total)).unwrap_or(100))
}

impl Routing {
    /// The routing that puts `percent` on the canary, with the preview route on or off (for the
    /// parts the config has).
    pub fn wanted(config: &Config, percent: u8, preview: bool) -> Self {
        let (stable, canary) = weights(percent);
        Routing {
            stable: u32::from(stable),
            canary: u32::from(canary),
            preview: config.preview.as_ref().map(|_| preview),
            cohort: config.cohort.as_ref().map(|_| Some(u32::from(percent.min(100)))),
        }
    }

    /// The canary's share by weight.
    pub fn percent(&self) -> Option<u8> {
        canary_percent(self.stable, self.canary)
    }

    /// The one-line form kept in the plugin's state.
    pub fn encode(&self) -> String {
        let mut line = format!("{} {}", self.stable, self.canary);
        if let Some(on) = self.preview {
            line.push_str(if on { " preview=on" } else { " preview=off" });
        }
        match self.cohort {
            Some(Some(p)) => line.push_str(&format!(" cohort={p}")),
            Some(None) => line.push_str(" cohort=none"),
            None => {}
        }
        line
    }

    /// Reads the one-line form back (also the `stable canary` of earlier versions of this target).
    pub fn decode(line: &str) -> Option<Self> {
        let mut words = line.split_whitespace();
        let stable = words.next()?.parse().ok()?;
        let canary = words.next()?.parse().ok()?;
        let mut routing = Routing { stable, canary, preview: None, cohort: None };
        for word in words {
            match word.split_once('=')? {
                ("preview", "on") => routing.preview = Some(true),
                ("preview", "off") => routing.preview = Some(false),
                ("cohort", "none") => routing.cohort = Some(None),
                ("cohort", p) => routing.cohort = Some(Some(p.parse().ok()?)),
                _ => return None,
            }
        }
        Some(routing)
    }

    /// For humans: `stable weight 90, canary weight 10, preview route on, cohort 10%`.
    pub fn describe(&self, config: &Config) -> String {
        format!("backend {}: {}", config.backend, self.routes(config))
    }

    /// [`Routing::describe`] without the backend: `stable weight 90, canary weight 10, ...`.
    pub fn routes(&self, config: &Config) -> String {
        let mut text = format!("{} weight {}, {} weight {}", config.stable, self.stable, config.canary, self.canary);
        if let (Some(on), Some(p)) = (self.preview, &config.preview) {
            text.push_str(&format!(", preview {} {}", p.value, if on { "on" } else { "off" }));
        }
        match self.cohort {
            Some(Some(share)) => text.push_str(&format!(", cohort {share}%")),
            Some(None) => text.push_str(", no cohort"),
            None => {}
        }
        text
    }
}

fn server(config: &Config, name: &str) -> String {
    format!("{}/{}", config.backend, name)
}

/// Reads what the backend routes now, for the parts the config has.
pub fn read(config: &Config) -> Result<Routing, PluginError> {
    let weight = |name: &str| {
        let answer = command(&config.admin, &format!("get weight {}", server(config, name)))?;
        parse_weight(&answer).map_err(|why| PluginError::conflict(format!("{}: {why}", server(config, name))))
    };
    let preview = match &config.preview {
        Some(p) => {
            let answer = command(&config.admin, &format!("show acl {}", p.acl))?;
            let entries = parse_acl(&answer).map_err(|why| not_loaded("ACL file", &p.acl, "acl", &why))?;
            Some(entries.contains(&p.value))
        }
        None => None,
    };
    let cohort = match &config.cohort {
        Some(c) => {
            let answer = command(&config.admin, &format!("show map {}", c.map))?;
            let entries = parse_map(&answer).map_err(|why| not_loaded("map file", &c.map, "map", &why))?;
            match entries.iter().find(|(k, _)| *k == c.key) {
                None => Some(None),
                Some((_, v)) => Some(Some(v.parse().map_err(|_| {
                    PluginError::conflict(format!("map {} holds {} = {v:?}, not a percentage", c.map, c.key))
                })?)),
            }
        }
        None => None,
    };
    Ok(Routing { stable: weight(&config.stable)?, canary: weight(&config.canary)?, preview, cohort })
}

fn not_loaded(what: &str, file: &str, use_: &str, why: &str) -> PluginError {
    PluginError::invalid_config(format!(
        "HAProxy has no {what} {file:?} ({why}): load it in haproxy.cfg (`-f {file}` in the {use_} that routes to the canary) with exactly this name"
    ))
}

/// Makes the backend route as `want` says, from `now` (what [`read`] just found), then reads
/// everything back: the result is what HAProxy reports, and a part that did not take effect is a
/// conflict. `want` is kept as what this rollout
/// set (in `set_key`) as soon as the first command has been sent.
///
/// Moving towards the canary the routes change first and the weights last; moving back, the weights
/// first: the bulk of the traffic follows the weights.
pub fn set(
    config: &Config,
    now: &Routing,
    want: &Routing,
    towards_canary: bool,
    set_key: &str,
) -> Result<Routing, PluginError> {
    upshift_sdk::state::set(set_key, &want.encode())?;
    if !towards_canary {
        set_weights(config, want)?;
    }
    if let (Some(p), Some(on), Some(was)) = (&config.preview, want.preview, now.preview) {
        match (on, was) {
            (true, false) => change(&config.admin, &format!("add acl {} {}", p.acl, p.value))?,
            (false, true) => change(&config.admin, &format!("del acl {} {}", p.acl, p.value))?,
            _ => {}
        }
    }
    if let (Some(c), Some(share), Some(was)) = (&config.cohort, want.cohort, now.cohort) {
        match (share, was) {
            (Some(p), Some(q)) if p != q => change(&config.admin, &format!("set map {} {} {p}", c.map, c.key))?,
            (Some(p), None) => change(&config.admin, &format!("add map {} {} {p}", c.map, c.key))?,
            (None, Some(_)) => change(&config.admin, &format!("del map {} {}", c.map, c.key))?,
            _ => {}
        }
    }
    if towards_canary {
        set_weights(config, want)?;
    }
    let seen = read(config)?;
    if seen != *want {
        return Err(PluginError::conflict(format!(
            "the change did not take effect: set {}; HAProxy reports {}",
            want.describe(config),
            seen.describe(config)
        )));
    }
    Ok(seen)
}

fn set_weights(config: &Config, want: &Routing) -> Result<(), PluginError> {
    let line = format!(
        "set weight {} {}; set weight {} {}",
        server(config, &config.stable),
        want.stable,
        server(config, &config.canary),
        want.canary
    );
    change(&config.admin, &line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_put_the_percentage_on_the_canary() {
        assert_eq!(weights(0), (100, 0));
        assert_eq!(weights(1), (99, 1));
        assert_eq!(weights(100), (0, 100));
        assert_eq!(weights(250), (0, 100));
    }

    #[test]
    fn the_share_is_read_back_from_any_weights() {
        assert_eq!(canary_percent(99, 1), Some(1));
        assert_eq!(canary_percent(0, 100), Some(100));
        assert_eq!(canary_percent(1, 1), Some(50));
        assert_eq!(canary_percent(0, 0), None);
    }

    #[test]
    fn the_state_line_round_trips_and_reads_the_older_form() {
        let all = Routing { stable: 90, canary: 10, preview: Some(true), cohort: Some(Some(10)) };
        assert_eq!(all.encode(), "90 10 preview=on cohort=10");
        let none = Routing { stable: 100, canary: 0, preview: Some(false), cohort: Some(None) };
        let weights_only = Routing { stable: 100, canary: 0, preview: None, cohort: None };
        for r in [&all, &none, &weights_only] {
            assert_eq!(Routing::decode(&r.encode()).as_ref(), Some(r));
        }
        assert_eq!(Routing::decode("100 0"), Some(weights_only));
        assert_eq!(Routing::decode("100 0 preview=maybe"), None);
        assert_eq!(Routing::decode("100"), None);
    }
}
