using System.Globalization;
using System.Text;
using Microsoft.Extensions.Logging;
using Tessera.Serving.Protocol;

namespace Tessera.Serving.Repository;

/// <summary>A model directory as last scanned: its config (or why it could not be read) and the versions to serve.</summary>
public sealed class RepositoryEntry
{
    public required string Name { get; init; }
    public required string Directory { get; init; }
    public ModelConfig? Config { get; init; }
    public string? ConfigError { get; init; }

    /// <summary>Numeric version subdirectories present on disk.</summary>
    public IReadOnlyList<long> AvailableVersions { get; init; } = [];

    /// <summary>The versions the config's version policy selects, ascending.</summary>
    public IReadOnlyList<long> ServedVersions { get; init; } = [];

    /// <summary>Changes when the config or any file under the model changes (names, sizes, times).</summary>
    public required string Fingerprint { get; init; }

    public string VersionDirectory(long version) => Path.Combine(Directory, version.ToString(CultureInfo.InvariantCulture));
}

/// <summary>
/// A model repository in Triton's layout: <c>&lt;root&gt;/&lt;model&gt;/config.pbtxt</c> (or <c>config.json</c>) and
/// <c>&lt;root&gt;/&lt;model&gt;/&lt;version&gt;/model.onnx</c>. It scans on demand and watches the tree, raising
/// <see cref="Changed"/> with the names of models whose files changed.
/// </summary>
public sealed class ModelRepository : IDisposable
{
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private readonly Lock _refreshing = new();
    private Dictionary<string, RepositoryEntry> _entries = new(StringComparer.Ordinal);
    private FileSystemWatcher? _watcher;
    private Timer? _debounce;
    private Timer? _poll;

    public ModelRepository(string root, ILogger<ModelRepository> logger)
    {
        Root = Path.GetFullPath(root);
        _logger = logger;
        if (!System.IO.Directory.Exists(Root)) throw new DirectoryNotFoundException($"model repository {Root} does not exist");
        Rescan();
    }

    public string Root { get; }

    /// <summary>Raised (on a timer thread) with the models that appeared, disappeared or changed.</summary>
    public event Action<IReadOnlyList<string>>? Changed;

    public IReadOnlyCollection<RepositoryEntry> Entries { get { lock (_lock) return [.. _entries.Values.OrderBy(e => e.Name, StringComparer.Ordinal)]; } }

    public RepositoryEntry? Find(string name) { lock (_lock) return _entries.GetValueOrDefault(name); }

    /// <summary>
    /// A model name a client may ask for: letters, digits, <c>_ - .</c>, not starting with a dot. Everything else
    /// (slashes, <c>..</c>, control characters) is refused before it can reach the file system.
    /// </summary>
    public static bool IsValidName(string name)
    {
        if (name.Length is 0 or > 200 || name[0] == '.' || name.Contains("..", StringComparison.Ordinal)) return false;
        foreach (char c in name)
            if (!(char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.')) return false;
        return true;
    }

    /// <summary>Throws 400 for a name that is not a valid model name (see <see cref="IsValidName"/>).</summary>
    public static void CheckName(string name)
    {
        if (!IsValidName(name))
            throw InferenceException.BadRequest($"invalid model name '{Truncate(name)}': use letters, digits, '_', '-' and '.', with no '..' or '/'");
    }

    private static string Truncate(string s) => s.Length > 64 ? s[..64] + "..." : s;

    /// <summary>Scans the tree now; returns the names of models that changed since the last scan.</summary>
    public IReadOnlyList<string> Rescan()
    {
        var fresh = new Dictionary<string, RepositoryEntry>(StringComparer.Ordinal);
        foreach (var dir in System.IO.Directory.EnumerateDirectories(Root))
        {
            string name = Path.GetFileName(dir);
            if (!IsValidName(name)) continue;
            fresh[name] = ScanModel(name, dir);
        }
        List<string> changed;
        lock (_lock)
        {
            changed = [.. fresh.Keys.Union(_entries.Keys).Where(n =>
                !fresh.TryGetValue(n, out var a) || !_entries.TryGetValue(n, out var b) || a.Fingerprint != b.Fingerprint)];
            _entries = fresh;
        }
        return changed;
    }

    private RepositoryEntry ScanModel(string name, string dir)
    {
        var available = new List<long>();
        foreach (var v in System.IO.Directory.EnumerateDirectories(dir))
            if (long.TryParse(Path.GetFileName(v), NumberStyles.None, CultureInfo.InvariantCulture, out long version) && version > 0)
                available.Add(version);
        available.Sort();
        ModelConfig? config = null;
        string? error = null;
        try { config = ModelConfig.Load(dir, name); }
        catch (Exception e) when (e is FormatException or System.Text.Json.JsonException or IOException or OverflowException)
        {
            error = $"invalid model config: {e.Message}";
            _logger.LogWarning("Model {Model}: {Reason}", name, error);
        }
        var served = config is null ? [] : config.VersionPolicy.Select(available).ToList();
        if (config is not null && served.Count == 0 && error is null)
            error = available.Count == 0 ? "no version directories" : $"version policy {config.VersionPolicy} selects none of [{string.Join(",", available)}]";
        return new RepositoryEntry
        {
            Name = name, Directory = dir, Config = config, ConfigError = error,
            AvailableVersions = available, ServedVersions = served, Fingerprint = Fingerprint(dir),
        };
    }

    private static string Fingerprint(string dir)
    {
        var sb = new StringBuilder();
        try
        {
            foreach (var f in System.IO.Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
            {
                var info = new FileInfo(f);
                sb.Append(f).Append('|').Append(info.Length).Append('|').Append(info.LastWriteTimeUtc.Ticks).Append('\n');
            }
        }
        catch (IOException) { sb.Append("unreadable"); }
        return sb.ToString();
    }

    /// <summary>
    /// Starts watching the tree: file-system events (debounced, so a copy in progress settles first) and a slow
    /// poll as a fallback for file systems without notifications.
    /// </summary>
    public void Watch(TimeSpan debounce, TimeSpan poll)
    {
        _debounce = new Timer(_ => Refresh(), null, Timeout.Infinite, Timeout.Infinite);
        try
        {
            _watcher = new FileSystemWatcher(Root) { IncludeSubdirectories = true, NotifyFilter = NotifyFilters.FileName | NotifyFilters.DirectoryName | NotifyFilters.LastWrite | NotifyFilters.Size };
            FileSystemEventHandler onChange = (_, _) => _debounce.Change(debounce, Timeout.InfiniteTimeSpan);
            _watcher.Changed += onChange;
            _watcher.Created += onChange;
            _watcher.Deleted += onChange;
            _watcher.Renamed += (_, _) => _debounce.Change(debounce, Timeout.InfiniteTimeSpan);
            _watcher.EnableRaisingEvents = true;
        }
        catch (Exception e) when (e is IOException or ArgumentException or PlatformNotSupportedException)
        {
            _logger.LogWarning("Repository watcher unavailable ({Reason}); polling every {Poll}", e.Message, poll);
        }
        _poll = new Timer(_ => Refresh(), null, poll, poll);
    }

    private void Refresh()
    {
        // The debounce and the poll timers may fire together; one rescan at a time keeps Changed in order.
        if (!_refreshing.TryEnter()) return;
        try
        {
            var changed = Rescan();
            if (changed.Count == 0) return;
            _logger.LogInformation("Repository changed: {Models}", string.Join(", ", changed));
            Changed?.Invoke(changed);
        }
        catch (Exception e)
        {
            _logger.LogError(e, "Repository rescan failed");
        }
        finally { _refreshing.Exit(); }
    }

    public void Dispose()
    {
        _watcher?.Dispose();
        _debounce?.Dispose();
        _poll?.Dispose();
    }
}
