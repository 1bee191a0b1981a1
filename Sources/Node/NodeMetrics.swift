import Metrics

/// The peer's figures for Prometheus (through swift-metrics; without a metrics backend they
/// cost nothing): `pinmesh_*` gauges, sampled every second by ``ClusterPeer``.
struct NodeMetrics {
    let queued = Gauge(label: "pinmesh_pin_queue")
    let inProgress = Gauge(label: "pinmesh_pins_in_progress")
    let pinsDone = Gauge(label: "pinmesh_pin_operations_done_total")
    let pinsFailed = Gauge(label: "pinmesh_pin_operations_failed_total")
    let failedNow = Gauge(label: "pinmesh_pins", dimensions: [("status", "error")])
    let allocatedHere = Gauge(label: "pinmesh_pins", dimensions: [("status", "allocated")])
    let statePins = Gauge(label: "pinmesh_pinset_pins")
    let peers = Gauge(label: "pinmesh_peers")
    let missingHeads = Gauge(label: "pinmesh_pinset_sync_lag_heads")
    let nodesApplied = Gauge(label: "pinmesh_pinset_deltas_applied_total")
    let published = Gauge(label: "pinmesh_pubsub_messages_published_total")
    let delivered = Gauge(label: "pinmesh_pubsub_messages_delivered_total")
    let duplicates = Gauge(label: "pinmesh_pubsub_duplicates_total")
    let droppedFrames = Gauge(label: "pinmesh_pubsub_dropped_frames_total")
    let metricBytes = Gauge(label: "pinmesh_monitor_bytes_published_total")
    let repinned = Gauge(label: "pinmesh_repinned_total")
}
