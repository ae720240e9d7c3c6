import Foundation

/// A target a result is judged against. Timings are reported, never enforced.
struct BenchGoal: Sendable {
    enum Subject: String, Sendable { case value, ratio }
    let subject: Subject
    let atLeast: Bool
    let bound: Double

    static func ratioAtLeast(_ bound: Double) -> BenchGoal { BenchGoal(subject: .ratio, atLeast: true, bound: bound) }
    static func atLeast(_ bound: Double) -> BenchGoal { BenchGoal(subject: .value, atLeast: true, bound: bound) }
    static func atMost(_ bound: Double) -> BenchGoal { BenchGoal(subject: .value, atLeast: false, bound: bound) }

    func text(unit: String) -> String {
        let comparison = atLeast ? ">=" : "<="
        switch subject {
        case .ratio: return "ratio \(comparison) \(formatBenchNumber(bound))"
        case .value: return "\(comparison) \(formatBenchNumber(bound)) \(unit)"
        }
    }
}

/// One measured figure. The JSON field names (snake_case) are part of `relq bench --json`'s contract.
struct BenchResult: Codable, Sendable {
    /// The scenario that produced it: `redis`, `enqueue`, `cycle`, `latency`, `sweep`, `cost`, `reference`.
    var scenario: String
    /// A stable name within the scenario, e.g. `set_callers_64`, `single_concurrency_64`, `p99`.
    var metric: String
    var value: Double
    /// `ops/s`, `tasks/s`, `ms`, `us/task`, `bytes/task`, `calls`.
    var unit: String
    /// What the value is compared with (a `redis-benchmark` command line), if anything.
    var reference: String?
    var referenceValue: Double?
    /// `value / reference_value`, or for paired rounds the median of the per-round ratios.
    var ratio: Double?
    /// The goal in words, e.g. `ratio >= 0.9` or `<= 1 ms`.
    var goal: String?
    /// Whether the goal was met; absent without a goal (or without the reference it needs).
    var goalMet: Bool?
    var notes: String?

    init(
        _ scenario: String, _ metric: String, value: Double, unit: String,
        reference: (name: String, value: Double)? = nil, ratio pairedRatio: Double? = nil, goal: BenchGoal? = nil, notes: String? = nil
    ) {
        self.scenario = scenario
        self.metric = metric
        self.value = value
        self.unit = unit
        self.reference = reference?.name
        self.referenceValue = reference?.value
        if let pairedRatio {
            ratio = pairedRatio
        } else if let reference, reference.value > 0 {
            ratio = value / reference.value
        }
        self.notes = notes
        if let goal {
            self.goal = goal.text(unit: unit)
            let subject: Double? = goal.subject == .ratio ? ratio : value
            if let subject { goalMet = goal.atLeast ? subject >= goal.bound : subject <= goal.bound }
        }
    }

    /// One line for the progress display.
    var summary: String {
        var line = "\(scenario) \(metric): \(formatBenchNumber(value)) \(unit)"
        if let ratio { line += " (\(String(format: "%.2f", ratio))× reference)" }
        if let goalMet { line += goalMet ? " [goal met]" : " [goal missed: \(goal ?? "")]" }
        return line
    }
}

/// The whole run, as `relq bench --json` prints it.
struct BenchReport: Codable, Sendable {
    var schemaVersion = 1
    var startedAt: String
    var durationSeconds: Double = 0
    var redisVersion: String = "unknown"
    /// `local` (a throwaway redis-server) or the URL without its password.
    var redisTarget: String
    var aof: Bool
    var quick: Bool
    var cpuCount: Int
    var poolSize: Int
    var redisBenchmark: Bool
    var scenarios: [String]
    var results: [BenchResult] = []
    var errors: [String] = []

    func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    func table() -> String {
        let header = ["scenario", "metric", "value", "unit", "ratio", "goal", "status"]
        var rows: [[String]] = [header]
        for result in results {
            rows.append([
                result.scenario,
                result.metric,
                formatBenchNumber(result.value),
                result.unit,
                result.ratio.map { String(format: "%.2f", $0) } ?? "",
                result.goal ?? "",
                result.goalMet.map { $0 ? "met" : "MISSED" } ?? "",
            ])
        }
        var widths = Array(repeating: 0, count: header.count)
        for row in rows {
            for (index, cell) in row.enumerated() { widths[index] = max(widths[index], cell.count) }
        }
        var lines: [String] = []
        for (number, row) in rows.enumerated() {
            let cells = row.enumerated().map { index, cell in
                let pad = String(repeating: " ", count: widths[index] - cell.count)
                return index == 2 || index == 4 ? pad + cell : cell + pad
            }
            lines.append(cells.joined(separator: "  ").trimmingCharacters(in: .whitespaces))
            if number == 0 { lines.append(widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")) }
        }
        var text = "relq bench — Redis \(redisVersion) (\(redisTarget)\(aof ? ", AOF" : "")), \(cpuCount) CPUs, pool \(poolSize)"
        text += quick ? ", quick\n" : "\n"
        text += lines.joined(separator: "\n") + "\n"
        let references = results.compactMap { result in result.reference.map { "\(result.scenario) \(result.metric): \($0)" } }
        if !references.isEmpty {
            text += "\nReferences (same server, same run):\n" + references.map { "  \($0)" }.joined(separator: "\n") + "\n"
        }
        let notes = results.compactMap { result in result.notes.map { "\(result.scenario) \(result.metric): \($0)" } }
        if !notes.isEmpty { text += "\nNotes:\n" + notes.map { "  \($0)" }.joined(separator: "\n") + "\n" }
        let met = results.filter { $0.goalMet == true }.count
        let judged = results.filter { $0.goalMet != nil }.count
        text += "\nGoals met: \(met) of \(judged) (timings are reported, never enforced)\n"
        if !errors.isEmpty { text += "Errors:\n" + errors.map { "  \($0)" }.joined(separator: "\n") + "\n" }
        return text
    }
}

/// Integers with thousands separators from 1,000 up; three significant digits below.
func formatBenchNumber(_ value: Double) -> String {
    if value.isNaN || value.isInfinite { return "\(value)" }
    if abs(value) >= 1000 {
        let digits = String(Int(value.rounded()).magnitude)
        var grouped = ""
        for (index, character) in digits.enumerated() {
            if index > 0 && (digits.count - index) % 3 == 0 { grouped.append(",") }
            grouped.append(character)
        }
        return (value < 0 ? "-" : "") + grouped
    }
    if abs(value) >= 100 { return String(format: "%.0f", value) }
    if abs(value) >= 10 { return String(format: "%.1f", value) }
    if abs(value) >= 1 { return String(format: "%.2f", value) }
    return String(format: "%.3f", value)
}
