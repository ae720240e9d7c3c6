#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A minimal wrapper over `pthread_create` for the fault proxy's blocking I/O threads.
enum PosixThread {
    private final class Body {
        let run: @Sendable () -> Void

        init(_ run: @escaping @Sendable () -> Void) {
            self.run = run
        }
    }

    /// Starts a thread running `body`. A detached thread cannot be joined.
    @discardableResult
    static func start(detached: Bool, _ body: @escaping @Sendable () -> Void) throws -> pthread_t {
        let context = Unmanaged.passRetained(Body(body)).toOpaque()
        #if canImport(Glibc)
        var thread = pthread_t()
        let rc = pthread_create(&thread, nil, { raw in
            let body = Unmanaged<Body>.fromOpaque(raw!).takeRetainedValue()
            body.run()
            return nil
        }, context)
        #else
        var optionalThread: pthread_t?
        let rc = pthread_create(&optionalThread, nil, { raw in
            let body = Unmanaged<Body>.fromOpaque(raw).takeRetainedValue()
            body.run()
            return nil
        }, context)
        #endif
        guard rc == 0 else {
            Unmanaged<Body>.fromOpaque(context).release()
            throw Posix.systemError("pthread_create", rc)
        }
        #if !canImport(Glibc)
        let thread = optionalThread!
        #endif
        if detached {
            pthread_detach(thread)
        }
        return thread
    }

    static func join(_ thread: pthread_t) {
        _ = pthread_join(thread, nil)
    }
}
