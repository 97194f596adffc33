import Foundation
import Synchronization

// MARK: - Worker pool for decode
//
// A decode step runs ~120 short parallel regions (q/k/v, W_O, gate/up, W_down per block, then the
// unembedding), each 50–500 µs. With DispatchQueue.concurrentPerform every region wakes a worker
// through a futex and waits on another, a hand-off as long as a short region itself. Here
// persistent helpers spin briefly for the next region before sleeping, and whoever arrives first
// claims tasks, so a descheduled helper never holds the caller up for more than the task it took.

/// Persistent helper threads (one fewer than the cores) that share out the tasks of one region.
final class WorkerPool: @unchecked Sendable {
    /// The process-wide pool, sized to the cores.
    static let shared = WorkerPool(helpers: max(0, ProcessInfo.processInfo.activeProcessorCount - 1))

    /// Spins (polls of the job word) before a helper sleeps: ~50 µs, longer than the gaps between
    /// the regions of a decode step, far shorter than the gaps between steps of a paused user.
    private static let spinLimit = 20_000

    private let helpers: Int
    /// Threads that share a region's tasks: the caller and the helpers. (Asking Foundation for the
    /// core count reads /proc and /sys each time: a tenth of a decode step's CPU when done per region.)
    var width: Int { helpers + 1 }
    /// (generation << 32) | next unclaimed task. A claim is a compare-exchange, so a helper still
    /// holding an earlier generation cannot take a task of a newer job. `next` and `done` change
    /// with every task, so each has cache lines of its own: sharing one with the other words, every
    /// claim would also take from the other core the line it spins on.
    private let next = WorkerPool.isolatedAtomic()
    private let done = WorkerPool.isolatedAtomic()
    private let generation = Atomic<Int>(0)
    /// Serialises callers: a second caller (another thread, or a nested call) runs elsewhere.
    private let inUse = Atomic<Bool>(false)
    /// Helpers asleep on `wake` (or about to be): a region wakes them only when there are any, so
    /// the regions of a decode step, whose helpers are spinning, skip the mutex and the broadcast.
    private let sleepers = Atomic<Int>(0)
    private var mutex = pthread_mutex_t()
    private var wake = pthread_cond_t()
    // The job, written before `next` is published (release) and read after a successful claim (acquire).
    nonisolated(unsafe) private var body: ((Int) -> Void)?
    /// (generation << 32) | the job's task count, published before `next`: a helper checks a claim
    /// against the count of its own generation. (A plain count could already hold the next job's
    /// while `next` still held this one's exhausted index: the claim then succeeded, ran a task of
    /// the next job early and counted it, so its caller could return before a task had finished.)
    private let limit = Atomic<Int>(0)

    /// An atomic integer alone on two cache lines (the adjacent-line prefetcher pairs them).
    private static func isolatedAtomic() -> UnsafeMutablePointer<Atomic<Int>> {
        let raw = UnsafeMutableRawPointer.allocate(byteCount: 128, alignment: 128)
        let atomic = raw.bindMemory(to: Atomic<Int>.self, capacity: 1)
        atomic.initialize(to: Atomic<Int>(0))
        return atomic
    }

    private init(helpers: Int) {
        self.helpers = helpers
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&wake, nil)
        for _ in 0..<helpers {
            let thread = Thread { [unowned self] in self.helperLoop() }
            thread.name = "periscope-matvec"
            thread.stackSize = 1 << 20
            thread.start()
        }
    }

    /// Runs `body(i)` for i in 0..<iterations on the caller and the helpers; returns when all are done.
    /// Falls back to concurrentPerform when the pool is busy (concurrent or nested use).
    func run(_ iterations: Int, _ body: (Int) -> Void) {
        guard helpers > 0, iterations > 1,
              inUse.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else {
            parallelFor(iterations, body)
            return
        }
        withoutActuallyEscaping(body) { escapable in
            let gen = generation.load(ordering: .relaxed) &+ 1
            self.body = escapable
            limit.store((gen << 32) | iterations, ordering: .releasing)
            done.pointee.store(0, ordering: .relaxed)
            next.pointee.store(gen << 32, ordering: .releasing)
            // Publish, then look for sleepers (both sequentially consistent, as the helper's count
            // and check are): a helper either sees the new generation or is counted and woken.
            generation.store(gen, ordering: .sequentiallyConsistent)
            if sleepers.load(ordering: .sequentiallyConsistent) > 0 {
                pthread_mutex_lock(&mutex)
                pthread_cond_broadcast(&wake)
                pthread_mutex_unlock(&mutex)
            }
            runTasks(generation: gen)
            var spins = 0
            while done.pointee.load(ordering: .acquiring) < iterations {
                spins += 1
                if spins > 1000 { sched_yield() }
            }
            self.body = nil
        }
        inUse.store(false, ordering: .releasing)
    }

    /// Claims and runs tasks of generation `gen` until none is left.
    private func runTasks(generation gen: Int) {
        while true {
            let v = next.pointee.load(ordering: .acquiring)
            let l = limit.load(ordering: .acquiring)
            guard v >> 32 == gen, l >> 32 == gen, v & 0xFFFF_FFFF < l & 0xFFFF_FFFF else { return }
            guard next.pointee.compareExchange(expected: v, desired: v + 1, ordering: .acquiringAndReleasing).exchanged else { continue }
            runTask(v & 0xFFFF_FFFF)
            done.pointee.add(1, ordering: .releasing)
        }
    }

    /// Task i, in a call of its own: the reference to the body it takes is released when the call
    /// returns, before the task counts as done. Inline, the release could follow the count, and the
    /// caller, already past `withoutActuallyEscaping`, traps on a body that escaped.
    @inline(never)
    private func runTask(_ i: Int) {
        body?(i)
    }

    private func helperLoop() {
        var seen = 0
        while true {
            var spins = 0
            while generation.load(ordering: .acquiring) == seen {
                spins += 1
                if spins > Self.spinLimit {
                    pthread_mutex_lock(&mutex)
                    sleepers.add(1, ordering: .sequentiallyConsistent)
                    while generation.load(ordering: .sequentiallyConsistent) == seen { pthread_cond_wait(&wake, &mutex) }
                    sleepers.subtract(1, ordering: .relaxed)
                    pthread_mutex_unlock(&mutex)
                }
            }
            seen = generation.load(ordering: .acquiring)
            runTasks(generation: seen)
        }
    }
}

/// Runs `body(i)` for i in 0..<count on the worker pool when the tasks hold at least `work`
/// multiply–adds in all (enough to pay for a region, ~64K), inline otherwise: decode attention
/// over a long context is worth sharing, over a short one it is shorter than the hand-off.
func runDecodeTasks(_ count: Int, work: Int, _ body: (Int) -> Void) {
    if work >= 1 << 16 && count > 1 {
        WorkerPool.shared.run(count, body)
    } else {
        for i in 0..<count { body(i) }
    }
}
