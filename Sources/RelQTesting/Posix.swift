#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Small internal helpers over POSIX sockets, threads and time. Loopback/IPv4 only.
enum Posix {
    typealias Deadline = ContinuousClock.Instant

    static func deadline(after duration: Duration) -> Deadline {
        ContinuousClock.now.advanced(by: duration)
    }

    /// Milliseconds of a duration, rounded up, clamped to `Int32`.
    static func milliseconds(_ duration: Duration) -> Int32 {
        let (seconds, attoseconds) = duration.components
        if seconds < 0 || (seconds == 0 && attoseconds <= 0) { return 0 }
        let ms = seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
        return Int32(clamping: ms)
    }

    static func remainingMilliseconds(until deadline: Deadline) -> Int32 {
        milliseconds(deadline - ContinuousClock.now)
    }

    static func errnoDescription(_ code: Int32 = errno) -> String {
        "\(String(cString: strerror(code))) (errno \(code))"
    }

    static func systemError(_ call: String, _ code: Int32 = errno) -> RelQTestingError {
        RelQTestingError(.systemCallFailed, "\(call) failed: \(errnoDescription(code))")
    }

    static func signal(_ pid: pid_t, _ signal: Int32) {
        _ = kill(pid, signal)
    }

    static func sleep(_ duration: Duration) {
        let ms = Int(milliseconds(duration))
        var request = timespec(tv_sec: ms / 1000, tv_nsec: (ms % 1000) * 1_000_000)
        var remaining = timespec()
        while nanosleep(&request, &remaining) != 0 && errno == EINTR {
            request = remaining
        }
    }

    // MARK: Addresses

    static func ipv4Address(host: String, port: Int) throws -> sockaddr_in {
        guard (0...65535).contains(port) else {
            throw RelQTestingError(.invalidArgument, "port \(port) out of range")
        }
        let numeric = host == "localhost" ? "127.0.0.1" : host
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        guard inet_pton(AF_INET, numeric, &address.sin_addr) == 1 else {
            throw RelQTestingError(.invalidArgument, "host '\(host)' is not an IPv4 address")
        }
        return address
    }

    // MARK: Sockets

    static func makeTCPSocket() throws -> Int32 {
        #if canImport(Glibc)
        let type = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue)
        let fd = socket(AF_INET, type, 0)
        guard fd >= 0 else { throw systemError("socket") }
        #else
        let fd = socket(AF_INET, SOCK_STREAM, 0)
        guard fd >= 0 else { throw systemError("socket") }
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        var one: Int32 = 1
        _ = setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, socklen_t(MemoryLayout<Int32>.size))
        #endif
        return fd
    }

    static func setNoDelay(_ fd: Int32) {
        var one: Int32 = 1
        _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    /// Sets `SO_LINGER` to 0 so that the next `close` sends RST instead of FIN.
    static func setLingerZero(_ fd: Int32) {
        var value = linger(l_onoff: 1, l_linger: 0)
        _ = setsockopt(fd, SOL_SOCKET, SO_LINGER, &value, socklen_t(MemoryLayout<linger>.size))
    }

    static func close(_ fd: Int32) {
        _ = closeFD(fd)
    }

    private static func closeFD(_ fd: Int32) -> Int32 {
        #if canImport(Glibc)
        return Glibc.close(fd)
        #else
        return Darwin.close(fd)
        #endif
    }

    /// Connects a non-blocking TCP socket, waiting at most until `deadline`.
    static func connect(host: String, port: Int, deadline: Deadline) throws -> Int32 {
        var address = try ipv4Address(host: host, port: port)
        let fd = try makeTCPSocket()
        let rc = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connectSocket(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        if rc != 0 {
            let code = errno
            guard code == EINPROGRESS || code == EINTR else {
                close(fd)
                throw RelQTestingError(.connectionFailed, "connect to \(host):\(port) failed: \(errnoDescription(code))")
            }
            do {
                try wait(fd, events: Int16(POLLOUT), deadline: deadline, what: "connect to \(host):\(port)")
            } catch {
                close(fd)
                throw error
            }
            var soError: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            _ = getsockopt(fd, SOL_SOCKET, SO_ERROR, &soError, &length)
            if soError != 0 {
                close(fd)
                throw RelQTestingError(.connectionFailed, "connect to \(host):\(port) failed: \(errnoDescription(soError))")
            }
        }
        setNoDelay(fd)
        return fd
    }

    private static func connectSocket(_ fd: Int32, _ address: UnsafePointer<sockaddr>, _ length: socklen_t) -> Int32 {
        #if canImport(Glibc)
        return Glibc.connect(fd, address, length)
        #else
        return Darwin.connect(fd, address, length)
        #endif
    }

    /// Waits until `fd` is ready for `events`; throws `.timeout` at the deadline.
    static func wait(_ fd: Int32, events: Int16, deadline: Deadline, what: String) throws {
        while true {
            let timeout = remainingMilliseconds(until: deadline)
            if timeout <= 0 {
                throw RelQTestingError(.timeout, "\(what) timed out")
            }
            var entry = pollfd(fd: fd, events: events, revents: 0)
            let rc = poll(&entry, 1, timeout)
            if rc > 0 { return }
            if rc < 0 && errno != EINTR { throw systemError("poll") }
        }
    }

    /// Sends all bytes before the deadline (never raises SIGPIPE).
    static func sendAll(_ fd: Int32, _ bytes: [UInt8], deadline: Deadline, what: String) throws {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes.withUnsafeBytes { buffer in
                sendNoSignal(fd, buffer.baseAddress! + offset, buffer.count - offset)
            }
            if sent > 0 {
                offset += sent
                continue
            }
            let code = errno
            if code == EAGAIN || code == EWOULDBLOCK || code == EINTR {
                try wait(fd, events: Int16(POLLOUT), deadline: deadline, what: what)
                continue
            }
            throw RelQTestingError(.connectionClosed, "\(what): send failed: \(errnoDescription(code))")
        }
    }

    static func sendNoSignal(_ fd: Int32, _ pointer: UnsafeRawPointer, _ count: Int) -> Int {
        #if canImport(Glibc)
        return send(fd, pointer, count, Int32(MSG_NOSIGNAL))
        #else
        return send(fd, pointer, count, 0)
        #endif
    }

    /// Creates a listening socket on `host` with an OS-chosen port; returns the fd and the port.
    static func listen(host: String, port: Int = 0, backlog: Int32 = 128) throws -> (fd: Int32, port: Int) {
        var address = try ipv4Address(host: host, port: port)
        let fd = try makeTCPSocket()
        var one: Int32 = 1
        _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        let rc = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard rc == 0 else {
            let error = systemError("bind \(host):\(port)")
            close(fd)
            throw error
        }
        #if canImport(Glibc)
        let listenRC = Glibc.listen(fd, backlog)
        #else
        let listenRC = Darwin.listen(fd, backlog)
        #endif
        guard listenRC == 0 else {
            let error = systemError("listen")
            close(fd)
            throw error
        }
        return (fd, try boundPort(fd))
    }

    static func boundPort(_ fd: Int32) throws -> Int {
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let rc = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                getsockname(fd, $0, &length)
            }
        }
        guard rc == 0 else { throw systemError("getsockname") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// A currently free TCP port on `host` (bind port 0, read it, close).
    static func freePort(host: String = "127.0.0.1") throws -> Int {
        var address = try ipv4Address(host: host, port: 0)
        let fd = try makeTCPSocket()
        defer { close(fd) }
        let rc = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard rc == 0 else { throw systemError("bind \(host):0") }
        return try boundPort(fd)
    }
}
