using System.Buffers.Binary;
using System.Diagnostics;
using System.Threading.Channels;
using Tessera.Serving.Backends;
using Tessera.Serving.Protocol;
using Tessera.Serving.Repository;

namespace Tessera.Serving.Scheduling;

/// <summary>What a scheduled request produced and how long it waited and ran.</summary>
public readonly record struct ScheduledResult(IReadOnlyList<InferTensor> Outputs, double QueueSeconds, double ComputeSeconds, int BatchSize);

/// <summary>
/// Runs requests for one loaded model version on its instances. Without <c>dynamic_batching</c> a request runs
/// on the caller's thread once one of the model's instance slots is free; with it, requests queue and instance
/// workers merge them along the batch dimension (up to <c>max_batch_size</c>, waiting at most
/// <c>max_queue_delay</c>, dispatching early at a preferred size). Either way the queue is bounded (full → 429),
/// a request that outwaits its timeout is dropped from the queue (504), and a cancelled one likewise.
/// </summary>
public sealed class ModelScheduler : IDisposable
{
    private readonly IModelBackend _backend;
    private readonly string _model;
    private readonly int _instances, _maxQueue, _maxBatch;
    private readonly SemaphoreSlim? _slots;
    private readonly Channel<Pending>? _queue;
    private readonly DynamicBatchingConfig? _batching;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task[] _workers = [];
    private readonly Action<int>? _onBatch;
    private int _waiting;

    public ModelScheduler(IModelBackend backend, ModelConfig config, int defaultMaxQueue, Action<int>? onBatch = null)
    {
        _backend = backend;
        _model = config.Name;
        _instances = Math.Max(1, config.InstanceCount);
        _maxQueue = config.MaxQueueSize > 0 ? config.MaxQueueSize : defaultMaxQueue;
        _maxBatch = config.MaxBatchSize;
        _onBatch = onBatch;
        if (config.DynamicBatching is { } db && config.MaxBatchSize > 1)
        {
            _batching = db;
            _queue = Channel.CreateBounded<Pending>(new BoundedChannelOptions(_maxQueue) { FullMode = BoundedChannelFullMode.Wait });
            _workers = [.. Enumerable.Range(0, _instances).Select(_ => Task.Run(WorkerLoop))];
        }
        else _slots = new SemaphoreSlim(_instances, _instances);
    }

    public bool Batching => _batching is not null;

    /// <summary>Requests waiting for an instance right now.</summary>
    public int QueueDepth => _queue?.Reader.Count ?? Math.Max(0, Volatile.Read(ref _waiting) - (_instances - (_slots?.CurrentCount ?? 0)));

    public Task<ScheduledResult> RunAsync(IReadOnlyList<InferTensor> inputs, IReadOnlyCollection<string>? outputs, TimeSpan timeout, CancellationToken ct) =>
        _queue is null ? RunDirectAsync(inputs, outputs, timeout, ct) : RunBatchedAsync(inputs, outputs, timeout, ct);

    private InferenceException QueueFull() =>
        InferenceException.QueueFull($"model '{_model}' queue is full ({_maxQueue} requests waiting); retry later", TimeSpan.FromSeconds(1));

    private async Task<ScheduledResult> RunDirectAsync(IReadOnlyList<InferTensor> inputs, IReadOnlyCollection<string>? outputs, TimeSpan timeout, CancellationToken ct)
    {
        if (Interlocked.Increment(ref _waiting) > _maxQueue + _instances)
        {
            Interlocked.Decrement(ref _waiting);
            throw QueueFull();
        }
        try
        {
            long start = Stopwatch.GetTimestamp();
            if (!_slots!.Wait(0))
            {
                bool entered;
                try { entered = await _slots.WaitAsync(timeout, ct).ConfigureAwait(false); }
                catch (OperationCanceledException) { throw InferenceException.Cancelled($"request for model '{_model}' was cancelled while queued"); }
                if (!entered) throw InferenceException.Timeout($"request for model '{_model}' timed out after {timeout.TotalMilliseconds:F0} ms in the queue");
            }
            long taken = Stopwatch.GetTimestamp();
            try
            {
                var result = _backend.Infer(inputs, outputs);
                long done = Stopwatch.GetTimestamp();
                return new ScheduledResult(result, Seconds(start, taken), Seconds(taken, done), 1);
            }
            finally { _slots.Release(); }
        }
        finally { Interlocked.Decrement(ref _waiting); }
    }

    private static double Seconds(long from, long to) => (to - from) / (double)Stopwatch.Frequency;

    private sealed class Pending(IReadOnlyList<InferTensor> inputs, IReadOnlyCollection<string>? outputs)
    {
        public readonly IReadOnlyList<InferTensor> Inputs = inputs;
        public readonly IReadOnlyCollection<string>? Outputs = outputs;
        public readonly int Rows = inputs.Count == 0 || inputs[0].Shape.Length == 0 ? 1 : (int)inputs[0].Shape[0];
        public readonly long Enqueued = Stopwatch.GetTimestamp();
        public readonly TaskCompletionSource<ScheduledResult> Result = new(TaskCreationOptions.RunContinuationsAsynchronously);

        // 0 queued, 1 taken by a worker, 2 abandoned by its caller (timeout or cancellation): a worker skips it.
        public int State;
    }

    private async Task<ScheduledResult> RunBatchedAsync(IReadOnlyList<InferTensor> inputs, IReadOnlyCollection<string>? outputs, TimeSpan timeout, CancellationToken ct)
    {
        var p = new Pending(inputs, outputs);
        if (!_queue!.Writer.TryWrite(p)) throw QueueFull();
        try { return await p.Result.Task.WaitAsync(timeout, ct).ConfigureAwait(false); }
        catch (Exception e) when (e is TimeoutException or OperationCanceledException)
        {
            if (Interlocked.CompareExchange(ref p.State, 2, 0) == 0)
                throw e is TimeoutException
                    ? InferenceException.Timeout($"request for model '{_model}' timed out after {timeout.TotalMilliseconds:F0} ms in the queue; it was dropped")
                    : InferenceException.Cancelled($"request for model '{_model}' was cancelled while queued");
            // Already in a running batch: its result is moments away and the batch cannot be interrupted.
            return await p.Result.Task.ConfigureAwait(false);
        }
    }

    private static bool TryTake(Pending p)
    {
        return Interlocked.CompareExchange(ref p.State, 1, 0) == 0;
    }

    private static bool Compatible(Pending a, Pending b)
    {
        if (a.Inputs.Count != b.Inputs.Count) return false;
        for (int i = 0; i < a.Inputs.Count; i++)
        {
            InferTensor x = a.Inputs[i], y = b.Inputs[i];
            if (x.Name != y.Name || x.DataType != y.DataType || x.Shape.Length != y.Shape.Length || x.Shape.Length == 0) return false;
            for (int d = 1; d < x.Shape.Length; d++) if (x.Shape[d] != y.Shape[d]) return false;
        }
        if (a.Outputs is null != b.Outputs is null) return false;
        return a.Outputs is null || a.Outputs.SequenceEqual(b.Outputs!);
    }

    private async Task WorkerLoop()
    {
        var reader = _queue!.Reader;
        var batch = new List<Pending>();
        Pending? carry = null;
        long maxDelayTicks = (long)(_batching!.MaxQueueDelay.TotalSeconds * Stopwatch.Frequency);
        try
        {
            while (true)
            {
                batch.Clear();
                Pending? first = carry;
                carry = null;
                while (first is null)
                {
                    if (!await reader.WaitToReadAsync(_stop.Token).ConfigureAwait(false)) return;
                    if (reader.TryRead(out var p) && TryTake(p)) first = p;
                }
                batch.Add(first);
                int rows = first.Rows;
                long deadline = first.Enqueued + maxDelayTicks;
                while (rows < _maxBatch)
                {
                    if (reader.TryRead(out var p))
                    {
                        if (!TryTake(p)) continue;
                        if (rows + p.Rows > _maxBatch || !Compatible(first, p)) { carry = p; break; }
                        batch.Add(p);
                        rows += p.Rows;
                        continue;
                    }
                    if (_batching.PreferredBatchSizes.Contains(rows)) break;
                    long remaining = deadline - Stopwatch.GetTimestamp();
                    if (remaining <= 0) break;
                    using var wait = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
                    wait.CancelAfter(TimeSpan.FromSeconds(remaining / (double)Stopwatch.Frequency));
                    try { if (!await reader.WaitToReadAsync(wait.Token).ConfigureAwait(false)) break; }
                    catch (OperationCanceledException) when (!_stop.IsCancellationRequested) { break; }
                }
                Execute(batch, rows);
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested) { }
        finally
        {
            // Requests taken into a batch that never ran (stopped while collecting) must not wait forever: a taken
            // request's caller waits for its result even past its timeout. Results already set are unaffected.
            var unloaded = InferenceException.Unavailable($"model '{_model}' was unloaded");
            carry?.Result.TrySetException(unloaded);
            foreach (var p in batch) p.Result.TrySetException(unloaded);
        }
    }

    private void Execute(List<Pending> batch, int rows)
    {
        _onBatch?.Invoke(rows);
        // Queue time runs to here, not to when a worker took the request: waiting for a batch to fill (up to
        // max_queue_delay) is queueing, as Triton counts it, not server overhead.
        long start = Stopwatch.GetTimestamp();
        try
        {
            IReadOnlyList<InferTensor> outputs;
            if (batch.Count == 1) outputs = _backend.Infer(batch[0].Inputs, batch[0].Outputs);
            else
            {
                var merged = new InferTensor[batch[0].Inputs.Count];
                for (int i = 0; i < merged.Length; i++) merged[i] = Concat(batch, i, rows);
                outputs = _backend.Infer(merged, batch[0].Outputs);
            }
            double compute = Seconds(start, Stopwatch.GetTimestamp());
            if (batch.Count == 1)
            {
                var p = batch[0];
                p.Result.TrySetResult(new ScheduledResult(outputs, Seconds(p.Enqueued, start), compute, rows));
                return;
            }
            var split = new List<InferTensor>[batch.Count];
            for (int b = 0; b < batch.Count; b++) split[b] = new List<InferTensor>(outputs.Count);
            foreach (var o in outputs)
            {
                if (o.Shape.Length == 0 || o.Shape[0] != rows)
                    throw new InvalidOperationException($"output '{o.Name}' has shape [{string.Join(",", o.Shape)}], not {rows} batch rows");
                var parts = Split(o, batch, rows);
                for (int b = 0; b < batch.Count; b++) split[b].Add(parts[b]);
            }
            for (int b = 0; b < batch.Count; b++)
                batch[b].Result.TrySetResult(new ScheduledResult(split[b], Seconds(batch[b].Enqueued, start), compute, rows));
        }
        catch (Exception e)
        {
            foreach (var p in batch) p.Result.TrySetException(e);
        }
    }

    private static InferTensor Concat(List<Pending> batch, int index, int rows)
    {
        var first = batch[0].Inputs[index];
        int total = 0;
        foreach (var p in batch) total += p.Inputs[index].Data.Length;
        var data = new byte[total];
        int offset = 0;
        foreach (var p in batch)
        {
            p.Inputs[index].Data.Span.CopyTo(data.AsSpan(offset));
            offset += p.Inputs[index].Data.Length;
        }
        long[] shape = (long[])first.Shape.Clone();
        shape[0] = rows;
        return new InferTensor(first.Name, first.DataType, shape, data);
    }

    private static InferTensor[] Split(InferTensor o, List<Pending> batch, int rows)
    {
        var parts = new InferTensor[batch.Count];
        long perRow = InferTensor.ElementCountOf(o.Shape.AsSpan(1));
        int size = o.DataType.ElementSize();
        int offset = 0;
        var span = o.Data.Span;
        for (int b = 0; b < batch.Count; b++)
        {
            long[] shape = (long[])o.Shape.Clone();
            shape[0] = batch[b].Rows;
            int length;
            if (size > 0) length = checked((int)(batch[b].Rows * perRow * size));
            else
            {
                length = 0;
                for (long e = 0; e < batch[b].Rows * perRow; e++)
                    length += 4 + (int)BinaryPrimitives.ReadUInt32LittleEndian(span[(offset + length)..]);
            }
            parts[b] = new InferTensor(o.Name, o.DataType, shape, o.Data.Slice(offset, length));
            offset += length;
        }
        return parts;
    }

    public void Dispose()
    {
        _stop.Cancel();
        _queue?.Writer.TryComplete();
        if (_queue is not null)
            while (_queue.Reader.TryRead(out var p)) p.Result.TrySetException(InferenceException.Unavailable($"model '{_model}' was unloaded"));
        try { Task.WaitAll(_workers, TimeSpan.FromSeconds(5)); } catch (AggregateException) { }
        _slots?.Dispose();
        _stop.Dispose();
    }
}
