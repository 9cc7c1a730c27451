using System.Diagnostics;
using System.Runtime.ExceptionServices;

namespace Tessera.Kernels;

/// <summary>
/// A small persistent pool for the kernels' fork/join loops (<see cref="Conv2dKernel.For"/>). An inference run is a
/// chain of 20–60 parallel kernel calls of 50 µs – 2 ms each; <c>Parallel.For</c> allocates its loop state and task
/// objects (≈ 1–2 KB) per call and wakes thread-pool threads that went back to sleep in between. Here the workers
/// are dedicated threads that spin for a short while after each loop (the next kernel usually follows within
/// microseconds) before blocking, and a loop allocates nothing beyond its caller's delegate.
/// </summary>
/// <remarks>
/// One loop runs on the pool at a time; a loop started while another is running (a concurrent model run, or a
/// loop body that itself calls <see cref="For"/>) runs on its caller's thread alone, so nesting cannot deadlock.
/// The caller always takes part. Items are handed out in small contiguous chunks through one shared counter.
/// </remarks>
internal static class KernelThreads
{
    /// <summary>How long an idle worker spins looking for the next loop before it blocks.</summary>
    internal static TimeSpan SpinTime { get; set; } = TimeSpan.FromMicroseconds(100);

    /// <summary>How long the caller spins for the helpers to finish before it blocks.</summary>
    internal static TimeSpan CallerSpinTime { get; set; } = TimeSpan.FromMicroseconds(50);

    private sealed class Worker
    {
        public readonly SemaphoreSlim Wake = new(0);
        public int Sleeping;   // 1 while blocked (or about to block) on Wake
    }

    private static readonly object CreateLock = new();
    private static Worker[] s_workers = [];

    private static int s_busy;          // 1 while a loop owns the pool
    // The current loop: a generation bumped once per loop (high bits) and how many workers take part in it (indices
    // 0..helpers-1, low 16 bits), read together so a worker never pairs one loop's generation with another's helpers.
    private static long s_loop;
    private static int s_pending;       // helpers not yet done with the current loop
    private static int s_callerSleeping;   // 1 while the caller blocks on s_done (helpers were descheduled)
    private static readonly SemaphoreSlim s_done = new(0);
    private static Action<int>? s_body;
    private static int s_count, s_chunk, s_next;
    private static Exception? s_error;

    /// <summary>
    /// Runs body(0..count-1) on up to <paramref name="threads"/> threads (the caller included) and returns when all
    /// have finished; the first exception is rethrown on the caller.
    /// </summary>
    public static void For(int count, int threads, Action<int> body)
    {
        int helpers = Math.Min(Math.Min(threads, count), 1 << 15) - 1;
        if (helpers <= 0 || Interlocked.CompareExchange(ref s_busy, 1, 0) != 0)
        {
            for (int i = 0; i < count; i++) body(i);
            return;
        }
        try
        {
            var workers = EnsureWorkers(helpers);
            s_body = body;
            s_count = count;
            // A few chunks per thread: enough to even out uneven items, few enough that the counter stays cold.
            s_chunk = Math.Max(1, count / (8 * (helpers + 1)));
            s_next = 0;
            s_error = null;
            s_pending = helpers;
            long generation = (Volatile.Read(ref s_loop) >> 16) + 1;
            Interlocked.Exchange(ref s_loop, generation << 16 | (long)helpers);   // publishes the fields above
            for (int w = 0; w < helpers; w++)
                if (Interlocked.Exchange(ref workers[w].Sleeping, 0) == 1) workers[w].Wake.Release();
            RunItems(body);
            WaitForHelpers();
            s_body = null;
            if (s_error is { } e)
            {
                s_error = null;
                ExceptionDispatchInfo.Capture(e).Throw();
            }
        }
        finally
        {
            Volatile.Write(ref s_busy, 0);
        }
    }

    /// <summary>
    /// Spins briefly for the helpers' last items, then blocks: on a busy machine a helper may be off its core for a
    /// whole time slice, and a caller spinning meanwhile would only take CPU from it.
    /// </summary>
    private static void WaitForHelpers()
    {
        long deadline = Stopwatch.GetTimestamp() + (long)(CallerSpinTime.TotalSeconds * Stopwatch.Frequency);
        var spin = new SpinWait();
        while (Volatile.Read(ref s_pending) != 0)
        {
            if (Stopwatch.GetTimestamp() < deadline)
            {
                spin.SpinOnce(sleep1Threshold: -1);
                continue;
            }
            // Same hand-shake as the workers' sleep: whoever flips the flag back to 0 decides who consumes the release.
            Interlocked.Exchange(ref s_callerSleeping, 1);
            if (Volatile.Read(ref s_pending) == 0)
            {
                if (Interlocked.Exchange(ref s_callerSleeping, 0) == 0) s_done.Wait();
                return;
            }
            s_done.Wait();
            return;
        }
    }

    /// <summary>A helper's end of the loop: the last one wakes a caller that went to sleep waiting.</summary>
    private static void HelperDone()
    {
        if (Interlocked.Decrement(ref s_pending) == 0 && Interlocked.Exchange(ref s_callerSleeping, 0) == 1) s_done.Release();
    }

    private static void RunItems(Action<int> body)
    {
        int count = s_count, chunk = s_chunk;
        try
        {
            int start;
            while ((start = Interlocked.Add(ref s_next, chunk) - chunk) < count)
            {
                int end = Math.Min(count, start + chunk);
                for (int i = start; i < end; i++) body(i);
            }
        }
        catch (Exception e)
        {
            Interlocked.CompareExchange(ref s_error, e, null);
            Volatile.Write(ref s_next, count);   // the others stop taking items
        }
    }

    private static Worker[] EnsureWorkers(int helpers)
    {
        var workers = s_workers;
        if (workers.Length >= helpers) return workers;
        lock (CreateLock)
        {
            workers = s_workers;
            if (workers.Length >= helpers) return workers;
            var grown = new Worker[helpers];
            workers.CopyTo(grown, 0);
            for (int i = workers.Length; i < helpers; i++)
            {
                var w = grown[i] = new Worker();
                int index = i;
                // The loop about to be published must count as new to this worker, however late its thread starts.
                long seen = Volatile.Read(ref s_loop);
                new Thread(() => WorkerLoop(w, index, seen)) { IsBackground = true, Name = $"Tessera kernel worker {index}" }.Start();
            }
            return s_workers = grown;
        }
    }

    private static void WorkerLoop(Worker self, int index, long seen)
    {
        while (true)
        {
            seen = WaitForLoop(self, seen);
            // A worker this loop does not count on must not touch it: the loop may end (and the next begin) any time.
            if (index >= (int)(seen & 0xFFFF)) continue;
            RunItems(s_body!);
            HelperDone();
        }
    }

    /// <summary>Spins for <see cref="SpinTime"/>, then blocks, until the generation moves past <paramref name="seen"/>.</summary>
    private static long WaitForLoop(Worker self, long seen)
    {
        long deadline = Stopwatch.GetTimestamp() + (long)(SpinTime.TotalSeconds * Stopwatch.Frequency);
        var spin = new SpinWait();
        while (true)
        {
            long loop = Volatile.Read(ref s_loop);
            if (loop != seen) return loop;
            if (Stopwatch.GetTimestamp() < deadline)
            {
                spin.SpinOnce(sleep1Threshold: -1);
                continue;
            }
            // Announce the sleep, then look once more: a loop published in between either sees Sleeping = 1 and
            // releases Wake, or is seen here. Whoever flips Sleeping back to 0 decides who consumes the release.
            Interlocked.Exchange(ref self.Sleeping, 1);
            if (Volatile.Read(ref s_loop) != seen)
            {
                if (Interlocked.Exchange(ref self.Sleeping, 0) == 0) self.Wake.Wait();   // the caller released already
                continue;
            }
            self.Wake.Wait();
            deadline = Stopwatch.GetTimestamp() + (long)(SpinTime.TotalSeconds * Stopwatch.Frequency);
        }
    }
}
