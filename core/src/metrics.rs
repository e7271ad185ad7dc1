//! Prometheus metrics of the backbone. The gateway serves them at `/metrics`.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ChannelLabel {
    pub channel: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabel {
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabel {
    pub kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TopicLabel {
    pub topic: String,
}

#[derive(Debug)]
pub struct Metrics {
    pub registry: Registry,
    /// Envelopes accepted by a channel adapter (appended to the inbound stream).
    pub accepted: Family<ChannelLabel, Counter>,
    /// Envelopes threaded by the router, by outcome (stored, duplicate, parked).
    pub ingested: Family<OutcomeLabel, Counter>,
    /// Delivery attempts by outcome (sent, retry, dead).
    pub dispatched: Family<OutcomeLabel, Counter>,
    pub queue_depth: Family<TopicLabel, Gauge>,
    /// From acceptance to the message being persisted and its event published.
    pub accept_to_persist: Histogram,
    /// One delivery attempt through a channel sender.
    pub send_latency: Histogram,
    /// SLA targets missed, by kind (`first_response`, `resolution`); each conversation's
    /// miss counts once, whichever node saw it.
    pub sla_breaches: Family<KindLabel, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("switchboard");
        let accepted = Family::<ChannelLabel, Counter>::default();
        let ingested = Family::<OutcomeLabel, Counter>::default();
        let dispatched = Family::<OutcomeLabel, Counter>::default();
        let queue_depth = Family::<TopicLabel, Gauge>::default();
        let accept_to_persist = Histogram::new(exponential_buckets(0.001, 2.0, 14));
        let send_latency = Histogram::new(exponential_buckets(0.001, 2.0, 14));
        registry.register(
            "envelopes_accepted",
            "Envelopes accepted by channel adapters",
            accepted.clone(),
        );
        registry.register(
            "envelopes_ingested",
            "Envelopes threaded by the router",
            ingested.clone(),
        );
        registry.register(
            "deliveries",
            "Outbound delivery attempts",
            dispatched.clone(),
        );
        registry.register(
            "queue_depth",
            "Stream entries not yet done",
            queue_depth.clone(),
        );
        registry.register(
            "accept_to_persist_seconds",
            "Envelope accepted to message persisted",
            accept_to_persist.clone(),
        );
        registry.register("send_seconds", "One delivery attempt", send_latency.clone());
        let sla_breaches = Family::<KindLabel, Counter>::default();
        registry.register(
            "sla_breaches",
            "SLA targets missed, by kind",
            sla_breaches.clone(),
        );
        Self {
            registry,
            accepted,
            ingested,
            dispatched,
            queue_depth,
            accept_to_persist,
            send_latency,
            sla_breaches,
        }
    }
}

impl Metrics {
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }

    /// Counts one missed SLA target of a kind.
    pub fn sla_breach(&self, kind: &str) {
        self.sla_breaches
            .get_or_create(&KindLabel {
                kind: kind.to_owned(),
            })
            .inc();
    }

    /// The SLA targets of a kind counted as missed by this node.
    pub fn sla_breaches_of(&self, kind: &str) -> u64 {
        self.sla_breaches
            .get_or_create(&KindLabel {
                kind: kind.to_owned(),
            })
            .get()
    }

    pub fn outcome(family: &Family<OutcomeLabel, Counter>, outcome: &str) {
        family
            .get_or_create(&OutcomeLabel {
                outcome: outcome.to_owned(),
            })
            .inc();
    }
}
