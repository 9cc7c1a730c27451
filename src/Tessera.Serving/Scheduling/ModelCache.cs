using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging;
using Tessera.Serving.Backends;
using Tessera.Serving.Hosting;
using Tessera.Serving.Metrics;
using Tessera.Serving.Protocol;
using Tessera.Serving.Repository;

namespace Tessera.Serving.Scheduling;

/// <summary>Triton's model states, as the repository index reports them.</summary>
public enum ModelState { Unavailable, Loading, Ready, Unloading }

/// <summary>A loaded model version: its backend and scheduler, reference-counted so unloading waits for in-flight requests.</summary>
public sealed class LoadedModel
{
    private int _refs;          // -1 once disposed
    private volatile bool _retiring;

    internal LoadedModel(string name, long version, ModelConfig config, IModelBackend backend, ModelScheduler scheduler)
    {
        Name = name;
        Version = version;
        Config = config;
        Backend = backend;
        Scheduler = scheduler;
        (Inputs, Outputs) = Signature(config, backend);
    }

    /// <summary>
    /// The tensors clients see: the config's (with the batch dimension -1 in front when <c>max_batch_size</c> &gt; 0),
    /// as Triton validates against its config; the backend's own when the config declares none.
    /// </summary>
    public IReadOnlyList<TensorSpec> Inputs { get; }
    public IReadOnlyList<TensorSpec> Outputs { get; }

    internal static (IReadOnlyList<TensorSpec>, IReadOnlyList<TensorSpec>) Signature(ModelConfig config, IModelBackend backend)
    {
        if (config.Inputs.Count == 0) return (backend.Inputs, backend.Outputs);
        TensorSpec Spec(TensorConfig t) => new(t.Name, t.DataType, config.MaxBatchSize > 0 ? [-1, .. t.Dims] : t.Dims);
        foreach (var t in config.Inputs)
            if (!backend.Inputs.Any(b => b.Name == t.Name))
                throw new InvalidDataException($"config declares input '{t.Name}' but the model's inputs are {string.Join(", ", backend.Inputs.Select(b => b.Name))}");
        return ([.. config.Inputs.Select(Spec)], config.Outputs.Count > 0 ? [.. config.Outputs.Select(Spec)] : backend.Outputs);
    }

    public string Name { get; }
    public long Version { get; }
    public string VersionText => Version.ToString(CultureInfo.InvariantCulture);
    public ModelConfig Config { get; }
    public IModelBackend Backend { get; }
    public ModelScheduler Scheduler { get; }
    public long MemoryBytes => Backend.MemoryBytes;

    /// <summary>Why the preferred engine was passed over, if it was.</summary>
    public string? LoadNote { get; init; }
    public int References => Math.Max(0, Volatile.Read(ref _refs));

    internal bool TryAddRef()
    {
        while (true)
        {
            int r = Volatile.Read(ref _refs);
            if (r < 0) return false;
            if (Interlocked.CompareExchange(ref _refs, r + 1, r) == r) break;
        }
        if (!_retiring) return true;
        Release();
        return false;
    }

    internal void Release()
    {
        if (Interlocked.Decrement(ref _refs) == 0 && _retiring) TryDispose();
    }

    /// <summary>Disposes now if idle (returns true), else marks it so the last request out disposes it.</summary>
    internal bool Retire()
    {
        _retiring = true;
        return TryDispose();
    }

    /// <summary>Disposes only if no request holds it; used by eviction, which must not wait.</summary>
    internal bool TryEvict() => TryDispose();

    private bool TryDispose()
    {
        if (Interlocked.CompareExchange(ref _refs, -1, 0) != 0) return false;
        _retiring = true;
        Scheduler.Dispose();
        Backend.Dispose();
        return true;
    }
}

/// <summary>A request's hold on a loaded model; disposing it lets the model unload.</summary>
public sealed class ModelLease(LoadedModel model, ModelCache cache, bool waitedForLoad) : IDisposable
{
    private int _disposed;
    public LoadedModel Model { get; } = model;

    /// <summary>Whether this request found the model cold and waited for it to load.</summary>
    public bool WaitedForLoad { get; } = waitedForLoad;

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        Model.Release();
        cache.AfterRelease();
    }
}

/// <summary>One row of the repository index, with what the dashboard shows besides Triton's four fields.</summary>
public sealed record ModelIndexEntry(string Name, string Version, string State, string Reason, string? Engine, long MemoryBytes, bool Pinned, bool Batching, int InFlight, DateTime? LastUsedUtc);

/// <summary>
/// Loads model versions on demand under a memory budget. The first request for a cold model starts its load and
/// concurrent requests wait on that same load (single flight). When loaded models exceed the budget, the least
/// recently used idle, unpinned ones are unloaded. Repository changes reload loaded models in the background and
/// swap them in; requests in flight finish on the old instance.
/// </summary>
public sealed class ModelCache : IDisposable
{
    private sealed class Slot(string name, long version)
    {
        public readonly string Name = name;
        public readonly long Version = version;
        public volatile LoadedModel? Current;
        public Task? Loading;
        public ModelState State = ModelState.Unavailable;
        public string Reason = "not loaded; loads on first request";
        public string? FailedFingerprint;
        public bool Disabled;
        public long LastUsed;
    }

    private readonly ModelRepository _repository;
    private readonly BackendRegistry _backends;
    private readonly ServingOptions _options;
    private readonly ServingMetrics _metrics;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<(string, long), Slot> _slots = new();
    private readonly Lock _lock = new();
    private long _loadedBytes;
    private int _loadCount;

    public ModelCache(ModelRepository repository, BackendRegistry backends, ServingOptions options, ServingMetrics metrics, ILogger<ModelCache> logger)
    {
        _repository = repository;
        _backends = backends;
        _options = options;
        _metrics = metrics;
        _logger = logger;
        _repository.Changed += OnRepositoryChanged;
    }

    /// <summary>How many backend loads have started since the server began (single-flight tests count these).</summary>
    public int LoadCount => Volatile.Read(ref _loadCount);

    public long LoadedBytes => Interlocked.Read(ref _loadedBytes);
    public long BudgetBytes => _options.MemoryBudgetBytes;

    private bool IsPinned(RepositoryEntry e) => e.Config?.Pinned == true || _options.PinnedModels.Contains(e.Name);

    /// <summary>Resolves a model and version the way every endpoint does: 400 for a bad name, 404 for unknown ones.</summary>
    public (RepositoryEntry Entry, long Version) Resolve(string name, string? version)
    {
        ModelRepository.CheckName(name);
        var entry = _repository.Find(name) ?? throw InferenceException.NotFound($"unknown model '{name}'");
        if (entry.Config is null || entry.ServedVersions.Count == 0)
            throw InferenceException.Unavailable($"model '{name}' is not available: {entry.ConfigError}");
        if (string.IsNullOrEmpty(version)) return (entry, entry.ServedVersions[^1]);
        if (!long.TryParse(version, NumberStyles.None, CultureInfo.InvariantCulture, out long v))
            throw InferenceException.BadRequest($"invalid version '{(version.Length > 32 ? version[..32] : version)}' for model '{name}': versions are positive integers");
        if (!entry.ServedVersions.Contains(v))
            throw InferenceException.NotFound($"unknown version {v} of model '{name}'; served versions: [{string.Join(",", entry.ServedVersions)}]");
        return (entry, v);
    }

    /// <summary>Holds a loaded model for one request, loading it first if needed.</summary>
    public async ValueTask<ModelLease> AcquireAsync(string name, string? version, CancellationToken ct)
    {
        var (entry, v) = Resolve(name, version);
        var slot = _slots.GetOrAdd((name, v), k => new Slot(k.Item1, k.Item2));
        bool missed = false;
        while (true)
        {
            var current = slot.Current;
            if (current is not null && current.TryAddRef())
            {
                Volatile.Write(ref slot.LastUsed, Stopwatch.GetTimestamp());
                if (!missed) _metrics.CacheHit(name);
                return new ModelLease(current, this, missed);
            }
            if (!missed) { _metrics.CacheMiss(name); missed = true; }
            Task load;
            lock (slot)
            {
                if (slot.Current is not null) continue;
                if (slot.Disabled)
                    throw InferenceException.Unavailable($"model '{name}' version {v} was unloaded; load it through the repository API");
                if (slot.FailedFingerprint is not null && slot.FailedFingerprint == entry.Fingerprint)
                    throw InferenceException.Unavailable($"model '{name}' version {v} failed to load: {slot.Reason}");
                load = slot.Loading ??= Task.Run(() => Load(slot, entry));
            }
            try { await load.WaitAsync(ct).ConfigureAwait(false); }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                throw InferenceException.Cancelled($"request for model '{name}' was cancelled while it loaded");
            }
            catch (Exception e) when (e is not InferenceException)
            {
                throw InferenceException.Unavailable($"model '{name}' version {v} failed to load: {e.Message}");
            }
            entry = _repository.Find(name) ?? throw InferenceException.NotFound($"unknown model '{name}'");
        }
    }

    private void Load(Slot slot, RepositoryEntry entry)
    {
        var sw = Stopwatch.StartNew();
        lock (slot) { slot.State = ModelState.Loading; slot.Reason = "loading"; }
        Interlocked.Increment(ref _loadCount);
        _metrics.Load(slot.Name);
        try
        {
            var loaded = Create(entry, slot.Version);
            lock (slot)
            {
                slot.Current = loaded;
                slot.State = ModelState.Ready;
                slot.FailedFingerprint = null;
                slot.Reason = $"loaded on {loaded.Backend.Engine} in {sw.Elapsed.TotalMilliseconds:F0} ms" +
                    (loaded.LoadNote is null ? "" : $" (passed over {loaded.LoadNote})");
                Volatile.Write(ref slot.LastUsed, Stopwatch.GetTimestamp());
            }
            AddBytes(loaded.MemoryBytes);
            _logger.LogInformation("Loaded {Model} version {Version} on {Engine} in {Ms:F0} ms ({Bytes} bytes estimated)",
                slot.Name, slot.Version, loaded.Backend.Engine, sw.Elapsed.TotalMilliseconds, loaded.MemoryBytes);
            EnforceBudget(except: slot);
        }
        catch (Exception e)
        {
            _metrics.LoadFailure(slot.Name);
            lock (slot)
            {
                slot.State = ModelState.Unavailable;
                slot.Reason = e.Message;
                slot.FailedFingerprint = entry.Fingerprint;
            }
            _logger.LogError("Model {Model} version {Version} failed to load: {Reason}", slot.Name, slot.Version, e.Message);
            throw;
        }
        finally
        {
            lock (slot) slot.Loading = null;
        }
    }

    private LoadedModel Create(RepositoryEntry entry, long version)
    {
        var config = entry.Config!;
        var backend = _backends.Load(config, entry.VersionDirectory(version), out string? note);
        try
        {
            string name = entry.Name;
            var scheduler = new ModelScheduler(backend, config, _options.MaxQueueSize, rows => _metrics.Batch(name, rows));
            return new LoadedModel(name, version, config, backend, scheduler) { LoadNote = note };
        }
        catch
        {
            backend.Dispose();
            throw;
        }
    }

    private void AddBytes(long delta)
    {
        long total = Interlocked.Add(ref _loadedBytes, delta);
        _metrics.Memory(total, _slots.Values.Count(s => s.Current is not null));
    }

    internal void AfterRelease()
    {
        if (_options.MemoryBudgetBytes > 0 && Interlocked.Read(ref _loadedBytes) > _options.MemoryBudgetBytes) EnforceBudget(except: null);
    }

    /// <summary>Unloads least-recently-used idle, unpinned models until the loaded total fits the budget (or nothing idle is left).</summary>
    private void EnforceBudget(Slot? except)
    {
        if (_options.MemoryBudgetBytes <= 0) return;
        lock (_lock)
        {
            while (Interlocked.Read(ref _loadedBytes) > _options.MemoryBudgetBytes)
            {
                var victims = _slots.Values
                    .Where(s => s != except && s.Current is { References: 0 } && _repository.Find(s.Name) is { } e && !IsPinned(e))
                    .OrderBy(s => Volatile.Read(ref s.LastUsed));
                bool evicted = false;
                foreach (var s in victims)
                {
                    LoadedModel? lm;
                    lock (s)
                    {
                        lm = s.Current;
                        if (lm is null || !lm.TryEvict()) continue;
                        s.Current = null;
                        s.State = ModelState.Unavailable;
                        s.Reason = $"evicted: least recently used when loaded models exceeded the {_options.MemoryBudgetBytes}-byte budget; reloads on next request";
                    }
                    AddBytes(-lm.MemoryBytes);
                    _metrics.Eviction(s.Name);
                    _logger.LogInformation("Evicted {Model} version {Version} ({Bytes} bytes) to stay within the memory budget", s.Name, s.Version, lm.MemoryBytes);
                    evicted = true;
                    break;
                }
                if (!evicted) break; // everything else is busy or pinned: stay over budget until a request finishes
            }
        }
    }

    /// <summary>Loads every served version of a model now (repository API, pinned and preloaded models); throws with the reason on failure.</summary>
    public async Task LoadAsync(string name, CancellationToken ct)
    {
        ModelRepository.CheckName(name);
        _repository.Rescan();
        var entry = _repository.Find(name) ?? throw InferenceException.NotFound($"unknown model '{name}': no such directory in the repository");
        if (entry.Config is null || entry.ServedVersions.Count == 0)
            throw InferenceException.BadRequest($"failed to load '{name}': {entry.ConfigError}");
        foreach (var v in entry.ServedVersions)
        {
            var slot = _slots.GetOrAdd((name, v), k => new Slot(k.Item1, k.Item2));
            lock (slot) { slot.Disabled = false; slot.FailedFingerprint = null; }
            try { (await AcquireAsync(name, v.ToString(CultureInfo.InvariantCulture), ct)).Dispose(); }
            catch (InferenceException e) { throw InferenceException.BadRequest($"failed to load '{name}': {e.Message}"); }
        }
    }

    /// <summary>Unloads every version of a model once its in-flight requests finish; it stays unloaded until loaded again.</summary>
    public void Unload(string name)
    {
        ModelRepository.CheckName(name);
        if (_repository.Find(name) is null && !_slots.Keys.Any(k => k.Item1 == name))
            throw InferenceException.NotFound($"unknown model '{name}'");
        foreach (var slot in _slots.Values.Where(s => s.Name == name))
        {
            lock (slot) { slot.Disabled = true; }
            Retire(slot, "unloaded by request");
        }
    }

    private void Retire(Slot slot, string reason)
    {
        LoadedModel? lm;
        lock (slot)
        {
            lm = slot.Current;
            slot.Current = null;
            slot.State = ModelState.Unavailable;
            slot.Reason = reason;
        }
        if (lm is null) return;
        AddBytes(-lm.MemoryBytes);
        lm.Retire();
        _logger.LogInformation("Unloading {Model} version {Version}: {Reason}", slot.Name, slot.Version, reason);
    }

    private void OnRepositoryChanged(IReadOnlyList<string> names)
    {
        foreach (var name in names)
        {
            var entry = _repository.Find(name);
            foreach (var slot in _slots.Values.Where(s => s.Name == name).ToList())
            {
                if (entry is null || !entry.ServedVersions.Contains(slot.Version))
                {
                    Retire(slot, entry is null ? "removed from the repository" : "no longer selected by the version policy");
                    _slots.TryRemove((slot.Name, slot.Version), out _);
                    continue;
                }
                lock (slot) slot.FailedFingerprint = null;
                if (slot.Current is not null) _ = Task.Run(() => Reload(slot, entry));
            }
            if (entry is not null && IsPinned(entry)) _ = PreloadAsync(name);
        }
    }

    /// <summary>Loads the new files beside the old instance, then swaps: requests never see the model missing.</summary>
    private void Reload(Slot slot, RepositoryEntry entry)
    {
        try
        {
            var sw = Stopwatch.StartNew();
            var fresh = Create(entry, slot.Version);
            Interlocked.Increment(ref _loadCount);
            _metrics.Load(slot.Name);
            LoadedModel? old;
            lock (slot)
            {
                old = slot.Current;
                slot.Current = fresh;
                slot.State = ModelState.Ready;
                slot.Reason = $"reloaded after a repository change on {fresh.Backend.Engine} in {sw.Elapsed.TotalMilliseconds:F0} ms";
            }
            AddBytes(fresh.MemoryBytes - (old?.MemoryBytes ?? 0));
            old?.Retire();
            _logger.LogInformation("Reloaded {Model} version {Version} after a repository change", slot.Name, slot.Version);
        }
        catch (Exception e)
        {
            _metrics.LoadFailure(slot.Name);
            lock (slot) slot.Reason = $"reload failed, still serving the previous files: {e.Message}";
            _logger.LogError("Reloading {Model} version {Version} failed: {Reason}", slot.Name, slot.Version, e.Message);
        }
    }

    /// <summary>Loads pinned models (and, with <see cref="ServingOptions.PreloadAll"/>, every model) at startup.</summary>
    public async Task PreloadAsync(string? only = null)
    {
        foreach (var e in _repository.Entries)
        {
            if (only is not null && e.Name != only) continue;
            if (!_options.PreloadAll && !IsPinned(e) && only is null) continue;
            if (e.Config is null) continue;
            foreach (var v in e.ServedVersions)
            {
                try { (await AcquireAsync(e.Name, v.ToString(CultureInfo.InvariantCulture), CancellationToken.None)).Dispose(); }
                catch (InferenceException ex) { _logger.LogWarning("Preloading {Model} failed: {Reason}", e.Name, ex.Message); }
            }
        }
    }

    /// <summary>Triton's repository index (every model and served version, with state and reason), plus cache details.</summary>
    public IReadOnlyList<ModelIndexEntry> Index()
    {
        var rows = new List<ModelIndexEntry>();
        long now = Stopwatch.GetTimestamp();
        foreach (var e in _repository.Entries)
        {
            if (e.Config is null || e.ServedVersions.Count == 0)
            {
                rows.Add(new ModelIndexEntry(e.Name, "", "UNAVAILABLE", e.ConfigError ?? "", null, 0, false, false, 0, null));
                continue;
            }
            foreach (var v in e.ServedVersions)
            {
                string version = v.ToString(CultureInfo.InvariantCulture);
                if (!_slots.TryGetValue((e.Name, v), out var s))
                {
                    rows.Add(new ModelIndexEntry(e.Name, version, "UNAVAILABLE", "not loaded; loads on first request", null, 0, IsPinned(e), e.Config.DynamicBatching is not null, 0, null));
                    continue;
                }
                var lm = s.Current;
                long last = Volatile.Read(ref s.LastUsed);
                DateTime? lastUsed = last == 0 ? null : DateTime.UtcNow - TimeSpan.FromSeconds((now - last) / (double)Stopwatch.Frequency);
                string state = lm is not null ? "READY" : s.State.ToString().ToUpperInvariant();
                rows.Add(new ModelIndexEntry(e.Name, version, state, s.Reason, lm?.Backend.Engine, lm?.MemoryBytes ?? 0, IsPinned(e),
                    lm?.Scheduler.Batching ?? e.Config.DynamicBatching is not null, lm?.References ?? 0, lastUsed));
            }
        }
        return rows;
    }

    /// <summary>Whether a model version can serve: loaded, or loadable on demand (not failed, not unloaded by request).</summary>
    public bool IsReady(string name, string? version)
    {
        var (entry, v) = Resolve(name, version);
        if (!_slots.TryGetValue((name, v), out var s)) return true;
        return s.Current is not null || (!s.Disabled && (s.FailedFingerprint is null || s.FailedFingerprint != entry.Fingerprint));
    }

    /// <summary>The loaded model if it is loaded, without loading it (metadata uses it when the config lacks tensors).</summary>
    public LoadedModel? Peek(string name, long version) => _slots.TryGetValue((name, version), out var s) ? s.Current : null;

    public void Dispose()
    {
        _repository.Changed -= OnRepositoryChanged;
        foreach (var s in _slots.Values) Retire(s, "server shutting down");
    }
}
