//! The MQTT topic layout (`docs/mqtt.md`).

/// Topics of one box under `lookout/v1/{site}/{box}`.
#[derive(Debug, Clone)]
pub struct Topics {
    root: String,
}

impl Topics {
    /// `site` and `box_id` are validated identifiers (no `/`, `+`, `#`).
    pub fn new(site: &str, box_id: &str) -> Self {
        Topics {
            root: format!("lookout/v1/{site}/{box_id}"),
        }
    }
    pub fn root(&self) -> &str {
        &self.root
    }
    /// Retained box status; also the last will's topic.
    pub fn status(&self) -> String {
        format!("{}/status", self.root)
    }
    /// Every revision of an order document.
    pub fn order(&self, order_id: &str) -> String {
        format!("{}/orders/{order_id}", self.root)
    }
    /// Raw JPEG bytes of one evidence item.
    pub fn evidence(&self, order_id: &str, name: &str) -> String {
        format!("{}/orders/{order_id}/evidence/{name}", self.root)
    }
    /// One chunk of a clip (`docs/mqtt.md`: clip chunks).
    pub fn clip_chunk(&self, order_id: &str, name: &str, index: u32) -> String {
        format!("{}/orders/{order_id}/clips/{name}/{index}", self.root)
    }
    /// Commands from the centre: `{root}/cmd/{verb}`.
    pub fn command(&self, verb: &str) -> String {
        format!("{}/cmd/{verb}", self.root)
    }
    /// Subscription filter for every command.
    pub fn all_commands(&self) -> String {
        format!("{}/cmd/+", self.root)
    }
    /// The verb of a command topic, if `topic` is one of this box's command topics.
    pub fn command_verb<'a>(&self, topic: &'a str) -> Option<&'a str> {
        topic
            .strip_prefix(self.root.as_str())?
            .strip_prefix("/cmd/")
            .filter(|v| !v.contains('/'))
    }
    /// The one answer to a command.
    pub fn command_result(&self, request_id: &str) -> String {
        format!("{}/cmd-result/{request_id}", self.root)
    }
    /// Subscription filter for every order document (not the evidence).
    pub fn all_orders(&self) -> String {
        format!("{}/orders/+", self.root)
    }
    /// Subscription filter for every evidence item.
    pub fn all_evidence(&self) -> String {
        format!("{}/orders/+/evidence/+", self.root)
    }
}
