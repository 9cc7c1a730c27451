using System.Diagnostics;

namespace Tessera.Kernels;

/// <summary>
/// Fork/join for the kernels' parallel loops on persistent threads (one per extra core) that spin for a short while
/// after each loop before sleeping. An inference run calls dozens of parallel loops back to back, each a few
/// hundred microseconds long; <see cref="Parallel.For(int, int, Action{int})"/> wakes a sleeping thread-pool
/// worker for each (tens of microseconds on a VM, during which the calling thread does all the work alone) and
/// allocates its partitioning state. Here a loop whose workers are still spinning starts on all cores at once.
/// <para>
/// Items are handed out one at a time through an atomic counter (dynamic balance); the caller works too and
/// returns when every item has finished. A loop started while another is running (a second model instance on
/// another thread, or a nested loop) runs on the calling thread alone, which is what a saturated server wants.
/// </para>
/// </summary>
public static class WorkerPool
{
    private sealed class Job(Action<int> body, int count)
    {
        public readonly Action<int> Body = body;
        public readonly int Count = count;
        public int Next = -1;
        public int Done;
        public Exception? Error;
    }

    /// <summary>
    /// How long idle workers keep polling for the next loop before they sleep (default 200 µs, enough to bridge the
    /// serial gaps between one run's ops). 0 makes them sleep at once (no spinning on a loaded server).
    /// </summary>
    public static int SpinMicroseconds { get; set; } = 200;

    private static readonly int WorkerCount = Math.Max(0, Environment.ProcessorCount - 1);
    private static readonly SemaphoreSlim Wake = new(0);
    private static readonly object StartLock = new();
    private static Job? _current;
    private static int _busy;
    private static int _sleepers;
    private static bool _started;

    /// <summary>body(0) … body(count - 1), in parallel when workers are free; exceptions are rethrown to the caller.</summary>
    public static void For(int count, Action<int> body)
    {
        if (count <= 0) return;
        if (count == 1 || WorkerCount == 0 || Interlocked.CompareExchange(ref _busy, 1, 0) != 0)
        {
            for (int i = 0; i < count; i++) body(i);
            return;
        }
        try
        {
            EnsureStarted();
            var job = new Job(body, count);
            Interlocked.Exchange(ref _current, job);   // a full fence: workers that check _sleepers' reader see it
            int sleeping = Volatile.Read(ref _sleepers);
            if (sleeping > 0) Wake.Release(Math.Min(sleeping, WorkerCount));
            Work(job);
            var spin = new SpinWait();
            while (Volatile.Read(ref job.Done) < count) spin.SpinOnce(sleep1Threshold: -1);
            Volatile.Write(ref _current, null);   // do not keep the loop's closure (and what it captured) alive
            if (job.Error is { } e) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(e);
        }
        finally
        {
            Volatile.Write(ref _busy, 0);
        }
    }

    private static void Work(Job job)
    {
        int i;
        while ((i = Interlocked.Increment(ref job.Next)) < job.Count)
        {
            try { job.Body(i); }
            catch (Exception e) { Interlocked.CompareExchange(ref job.Error, e, null); }
            finally { Interlocked.Increment(ref job.Done); }
        }
    }

    private static void EnsureStarted()
    {
        if (Volatile.Read(ref _started)) return;
        lock (StartLock)
        {
            if (_started) return;
            for (int w = 0; w < WorkerCount; w++)
                new Thread(WorkerLoop) { IsBackground = true, Name = $"Tessera worker {w + 1}" }.Start();
            Volatile.Write(ref _started, true);
        }
    }

    private static void WorkerLoop()
    {
        Job? last = null;
        while (true)
        {
            var job = WaitForJob(last);
            last = job;
            Work(job);
        }
    }

    /// <summary>The next job after <paramref name="last"/>: polled for <see cref="SpinMicroseconds"/>, then slept for.</summary>
    private static Job WaitForJob(Job? last)
    {
        long deadline = Stopwatch.GetTimestamp() + SpinMicroseconds * Stopwatch.Frequency / 1_000_000;
        while (true)
        {
            var job = Volatile.Read(ref _current);
            if (job != null && job != last) return job;
            if (Stopwatch.GetTimestamp() < deadline)
            {
                Thread.SpinWait(32);
                continue;
            }
            // Announce the sleep, then look once more: a job published before the announcement is seen here, one
            // published after it finds _sleepers > 0 and releases the semaphore. Spare releases only cause a re-check.
            Interlocked.Increment(ref _sleepers);
            job = Volatile.Read(ref _current);
            if (job == null || job == last) Wake.Wait();
            Interlocked.Decrement(ref _sleepers);
            deadline = Stopwatch.GetTimestamp() + SpinMicroseconds * Stopwatch.Frequency / 1_000_000;
        }
    }
}
