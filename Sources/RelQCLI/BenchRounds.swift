extension BenchResult {
    /// Combines the rounds of `relq bench --repeat N` into one result per scenario and metric, in
    /// the order first measured. Value, reference value and ratio become medians over the rounds
    /// that measured the figure (each ratio was formed within its round, against the reference of
    /// that round); the goal is judged on the medians; `min`, `max`, `samples` and the number of
    /// rounds that met the goal are kept. Texts (reference command, notes) are the first round's.
    static func medians(of rounds: [[BenchResult]]) -> [BenchResult] {
        var order: [String] = []
        var groups: [String: [BenchResult]] = [:]
        for round in rounds {
            for result in round {
                let key = result.scenario + "\u{0}" + result.metric
                if groups[key] == nil { order.append(key) }
                groups[key, default: []].append(result)
            }
        }
        return order.compactMap { key in
            guard let samples = groups[key], var combined = samples.first else { return nil }
            let values = samples.map(\.value)
            combined.value = benchMedian(values) ?? combined.value
            combined.min = values.min()
            combined.max = values.max()
            combined.samples = samples.count
            combined.referenceValue = benchMedian(samples.compactMap(\.referenceValue))
            combined.ratio = benchMedian(samples.compactMap(\.ratio))
            if let goal = combined.judgedBy {
                combined.goalMet = goal.isMet(value: combined.value, ratio: combined.ratio)
                combined.goalMetRounds = samples.filter { $0.goalMet == true }.count
            }
            return combined
        }
    }
}
