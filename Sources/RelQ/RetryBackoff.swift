import Foundation

/// How long a failed task waits before its next attempt.
///
/// ```swift
/// .exponential(initial: .seconds(1), multiplier: 2, maximum: .seconds(300), jitter: 0.2)
/// .fixed(.seconds(5))
/// ```
public struct RetryBackoff: Sendable, Hashable {
    let initial: Duration
    let multiplier: Double
    let maximum: Duration
    let jitter: Double

    /// The same delay after every failure.
    /// - Parameter delay: the delay.
    public static func fixed(_ delay: Duration) -> RetryBackoff {
        RetryBackoff(initial: delay, multiplier: 1, maximum: delay, jitter: 0)
    }

    /// `initial × multiplier^(attempt-1)`, capped at `maximum`, then spread by ±`jitter` (a fraction)
    /// so failed tasks do not all come back at once.
    /// - Parameters:
    ///   - initial: the delay after the first failure.
    ///   - multiplier: the growth per failure, ≥ 1.
    ///   - maximum: the cap.
    ///   - jitter: the random spread, 0–1 (0.2 = ±20 %).
    public static func exponential(initial: Duration = .seconds(1), multiplier: Double = 2, maximum: Duration = .seconds(300), jitter: Double = 0.2) -> RetryBackoff {
        RetryBackoff(initial: initial, multiplier: multiplier, maximum: maximum, jitter: jitter)
    }

    /// The delay after the failure of delivery number `attempt` (from 1).
    /// - Parameter attempt: the failed delivery's number.
    public func delay(afterAttempt attempt: Int) -> Duration {
        let base = initial.secondsDouble * Foundation.pow(multiplier, Double(Swift.max(0, attempt - 1)))
        var seconds = Swift.min(base, maximum.secondsDouble)
        if jitter > 0 {
            seconds *= 1 + Double.random(in: -jitter...jitter)
        }
        return .milliseconds(Int64(Swift.max(0, Swift.min(seconds, maximum.secondsDouble * (1 + jitter))) * 1000))
    }

    func validate() throws {
        guard initial >= .zero, maximum >= initial, maximum <= Validation.maxDuration else {
            throw ReliableQueueError(.invalidArgument, "retry backoff needs 0 ≤ initial ≤ maximum ≤ 365 days")
        }
        guard multiplier.isFinite, multiplier >= 1, multiplier <= 100 else {
            throw ReliableQueueError(.invalidArgument, "retry backoff multiplier must be 1-100, got \(multiplier)")
        }
        guard jitter.isFinite, jitter >= 0, jitter <= 1 else {
            throw ReliableQueueError(.invalidArgument, "retry backoff jitter must be 0-1, got \(jitter)")
        }
    }
}
