#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A `/bin/sh` helper that SIGKILLs a child if this process dies without dismissing it.
///
/// It blocks in `read` on a pipe whose only writer is this process (close-on-exec). On
/// `dismiss()` a newline arrives and it exits quietly; if this process dies, `read` sees EOF and
/// the helper kills the child (and removes its directory), so no `redis-server` outlives a
/// crashed test run.
struct Watchdog: Sendable {
    let pid: pid_t
    let writeFD: Int32

    static func start(guarding child: pid_t, removing directory: String?) -> Watchdog? {
        var fds: [Int32] = [0, 0]
        // pipe2(O_CLOEXEC) is not exported by the Glibc module; the window is tiny.
        guard pipe(&fds) == 0 else { return nil }
        _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
        var script = "read -r _ || { kill -9 \(child)"
        if let directory {
            script += "; sleep 0.2; rm -rf '\(directory)'"
        }
        script += "; }"
        defer { Posix.close(fds[0]) }
        guard let pid = try? ChildProcess.spawn(
            path: "/bin/sh", arguments: ["sh", "-c", script], input: .fileDescriptor(fds[0]), outputPath: nil)
        else {
            Posix.close(fds[1])
            return nil
        }
        return Watchdog(pid: pid, writeFD: fds[1])
    }

    /// Tells the helper to exit without killing anything, and reaps it.
    func dismiss() {
        var newline: UInt8 = 10
        _ = write(writeFD, &newline, 1)
        Posix.close(writeFD)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    }
}
