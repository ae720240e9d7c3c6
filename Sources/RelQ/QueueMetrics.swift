import Metrics

/// The swift-metrics instruments of one queue, made once per ``ReliableQueue``.
///
/// Names follow Prometheus conventions, each with the dimension `queue`:
/// - counters `relq_tasks_enqueued_total`, `relq_tasks_dequeued_total`, `relq_tasks_released_total`,
///   `relq_tasks_requeued_total`, `relq_tasks_timed_out_total`, `relq_tasks_dead_lettered_total`;
/// - timers `relq_task_wait_seconds` (enqueue → delivery) and `relq_task_run_seconds` (delivery →
///   release, recorded by ``ConsumerService``);
/// - gauges `relq_queue_depth` with `state` = pending, delayed, working, dead, and
///   `relq_queue_oldest_pending_age_seconds`, updated by ``ReliableQueue/stats()``.
struct QueueMetrics: Sendable {
    let enqueuedCounter, dequeuedCounter, releasedCounter, requeuedCounter, timedOutCounter, deadLetteredCounter: Counter
    let waitTimer, runTimer: Timer
    let pendingGauge, delayedGauge, workingGauge, deadGauge, oldestAgeGauge: Gauge

    init(queue: String) {
        let dimensions = [("queue", queue)]
        enqueuedCounter = Counter(label: "relq_tasks_enqueued_total", dimensions: dimensions)
        dequeuedCounter = Counter(label: "relq_tasks_dequeued_total", dimensions: dimensions)
        releasedCounter = Counter(label: "relq_tasks_released_total", dimensions: dimensions)
        requeuedCounter = Counter(label: "relq_tasks_requeued_total", dimensions: dimensions)
        timedOutCounter = Counter(label: "relq_tasks_timed_out_total", dimensions: dimensions)
        deadLetteredCounter = Counter(label: "relq_tasks_dead_lettered_total", dimensions: dimensions)
        waitTimer = Timer(label: "relq_task_wait_seconds", dimensions: dimensions, preferredDisplayUnit: .seconds)
        runTimer = Timer(label: "relq_task_run_seconds", dimensions: dimensions, preferredDisplayUnit: .seconds)
        pendingGauge = Gauge(label: "relq_queue_depth", dimensions: dimensions + [("state", "pending")])
        delayedGauge = Gauge(label: "relq_queue_depth", dimensions: dimensions + [("state", "delayed")])
        workingGauge = Gauge(label: "relq_queue_depth", dimensions: dimensions + [("state", "working")])
        deadGauge = Gauge(label: "relq_queue_depth", dimensions: dimensions + [("state", "dead")])
        oldestAgeGauge = Gauge(label: "relq_queue_oldest_pending_age_seconds", dimensions: dimensions)
    }

    func enqueued(_ count: Int) { if count > 0 { enqueuedCounter.increment(by: count) } }

    func dequeued(_ deliveries: [Delivery]) {
        guard !deliveries.isEmpty else { return }
        dequeuedCounter.increment(by: deliveries.count)
        for delivery in deliveries {
            waitTimer.recordMilliseconds(max(0, delivery.waitTime.wholeMilliseconds))
        }
    }

    func released(_ count: Int) { if count > 0 { releasedCounter.increment(by: count) } }
    func requeued(_ count: Int) { requeuedCounter.increment(by: count) }
    func deadLettered(_ count: Int) { deadLetteredCounter.increment(by: count) }

    func swept(_ result: ReliableQueue.SweepResult) {
        if result.recovered + result.deadLettered > 0 { timedOutCounter.increment(by: result.recovered + result.deadLettered) }
        if result.deadLettered > 0 { deadLetteredCounter.increment(by: result.deadLettered) }
    }

    func ran(_ duration: Duration) { runTimer.recordNanoseconds(Int64(duration.nanosecondsClamped)) }

    func record(_ stats: QueueStats) {
        pendingGauge.record(stats.pending)
        delayedGauge.record(stats.delayed)
        workingGauge.record(stats.working)
        deadGauge.record(stats.dead)
        oldestAgeGauge.record(Double(stats.oldestPendingAgeMilliseconds ?? 0) / 1000)
    }
}
