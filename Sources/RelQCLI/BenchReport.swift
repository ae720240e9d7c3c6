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

    /// Whether `value` (or `ratio`, for a ratio goal) meets the goal; nil when the ratio is missing.
    func isMet(value: Double, ratio: Double?) -> Bool? {
        let subject: Double? = self.subject == .ratio ? ratio : value
        guard let subject else { return nil }
        return atLeast ? subject >= bound : subject <= bound
    }

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
    /// With `--repeat`, judged on the medians.
    var goalMet: Bool?
    var notes: String?
    /// With `--repeat N`: the number of rounds that measured this figure (value, reference value
    /// and ratio are then medians over them).
    var samples: Int?
    /// With `--repeat N`: the smallest and largest value over the rounds.
    var min: Double?
    var max: Double?
    /// With `--repeat N`: in how many of the rounds the goal was met.
    var goalMetRounds: Int?
    /// The goal itself, to judge a median against (not part of the JSON).
    var judgedBy: BenchGoal?

    enum CodingKeys: String, CodingKey {
        case scenario, metric, value, unit, reference, referenceValue, ratio, goal, goalMet, notes
        case samples, min, max, goalMetRounds
    }

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
            judgedBy = goal
            goalMet = goal.isMet(value: value, ratio: ratio)
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
    /// `--repeat N`: how many times the scenarios ran; results are medians over the rounds.
    var rounds = 1
    var results: [BenchResult] = []
    var errors: [String] = []

    func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    func table() -> String {
        let repeated = results.contains { ($0.samples ?? 1) > 1 }
        var header = ["scenario", "metric", repeated ? "median" : "value", "unit", "ratio", "goal", "status"]
        if repeated { header.insert("min – max", at: 3) }
        var rows: [[String]] = [header]
        for result in results {
            var status = result.goalMet.map { $0 ? "met" : "MISSED" } ?? ""
            if let rounds = result.goalMetRounds, let samples = result.samples, samples > 1 {
                status += " (\(rounds) of \(samples))"
            }
            var row = [
                result.scenario,
                result.metric,
                formatBenchNumber(result.value),
                result.unit,
                result.ratio.map { String(format: "%.2f", $0) } ?? "",
                result.goal ?? "",
                status,
            ]
            if repeated {
                let range = result.min.map { low in "\(formatBenchNumber(low)) – \(formatBenchNumber(result.max ?? low))" } ?? ""
                row.insert(range, at: 3)
            }
            rows.append(row)
        }
        let rightAligned: Set<Int> = repeated ? [2, 3, 5] : [2, 4]
        var widths = Array(repeating: 0, count: header.count)
        for row in rows {
            for (index, cell) in row.enumerated() { widths[index] = max(widths[index], cell.count) }
        }
        var lines: [String] = []
        for (number, row) in rows.enumerated() {
            let cells = row.enumerated().map { index, cell in
                let pad = String(repeating: " ", count: widths[index] - cell.count)
                return rightAligned.contains(index) ? pad + cell : cell + pad
            }
            lines.append(cells.joined(separator: "  ").trimmingCharacters(in: .whitespaces))
            if number == 0 { lines.append(widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")) }
        }
        var text = "relq bench — Redis \(redisVersion) (\(redisTarget)\(aof ? ", AOF" : "")), \(cpuCount) CPUs, pool \(poolSize)"
        text += quick ? ", quick" : ""
        text += rounds > 1 ? ", \(rounds) rounds (medians)\n" : "\n"
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

/// The median (the mean of the two middle values for an even count); nil for no values.
func benchMedian(_ values: [Double]) -> Double? {
    guard !values.isEmpty else { return nil }
    let sorted = values.sorted()
    let middle = sorted.count / 2
    return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}
