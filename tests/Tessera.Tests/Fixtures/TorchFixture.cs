using System.Text.Json;

namespace Tessera.Tests.Fixtures;

/// <summary>
/// One PyTorch 1.13 reference case from <c>tests/fixtures/ops/&lt;family&gt;.json</c> (written by
/// <c>tools/fixtures/make_op_fixtures.py</c>): inputs, the op output, an upstream gradient and the
/// vector-Jacobian products d(sum(y * gy))/d(input) (null for non-differentiable inputs).
/// </summary>
public sealed class TorchFixtureCase
{
    public required string Family { get; init; }
    public required string Name { get; init; }
    public required string Op { get; init; }
    public required JsonElement Attrs { get; init; }
    public required Tensor[] Inputs { get; init; }
    public required Tensor Output { get; init; }
    public required Tensor GradOutput { get; init; }
    public required Tensor?[] Grads { get; init; }

    public bool HasAttr(string name) =>
        Attrs.ValueKind == JsonValueKind.Object && Attrs.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null;

    private JsonElement Attr(string name) =>
        Attrs.ValueKind == JsonValueKind.Object && Attrs.TryGetProperty(name, out var v)
            ? v
            : throw new KeyNotFoundException($"Fixture {Name}: op {Op} has no attribute '{name}'.");

    public int Int(string name) => Attr(name).GetInt32();
    public double Double(string name) => Attr(name).GetDouble();
    public bool Bool(string name) => Attr(name).GetBoolean();

    /// <summary>An int list attribute; null when absent or JSON null (e.g. reduction axes = all).</summary>
    public int[]? Ints(string name) =>
        HasAttr(name) ? [.. Attr(name).EnumerateArray().Select(e => e.GetInt32())] : null;

    public override string ToString() => Name;
}

/// <summary>Loads the fixture files copied to the test output directory under <c>fixtures/ops</c>.</summary>
public static class TorchFixture
{
    public static string Directory => Path.Combine(AppContext.BaseDirectory, "fixtures", "ops");

    private static readonly Lazy<IReadOnlyDictionary<string, TorchFixtureCase>> s_all = new(() =>
    {
        var all = new Dictionary<string, TorchFixtureCase>(StringComparer.Ordinal);
        foreach (var path in System.IO.Directory.GetFiles(Directory, "*.json").Order(StringComparer.Ordinal))
            foreach (var c in LoadFile(path))
                if (!all.TryAdd(c.Name, c))
                    throw new InvalidDataException($"Duplicate fixture case name {c.Name} in {path}.");
        return all;
    });

    /// <summary>Every case of every family, keyed by its (unique) name.</summary>
    public static IReadOnlyDictionary<string, TorchFixtureCase> All => s_all.Value;

    public static TorchFixtureCase Get(string name) =>
        All.TryGetValue(name, out var c) ? c : throw new KeyNotFoundException($"No fixture case named {name} in {Directory}.");

    /// <summary>The cases of one family file, e.g. "unary" for <c>unary.json</c>.</summary>
    public static IReadOnlyList<TorchFixtureCase> Family(string family) =>
        LoadFile(Path.Combine(Directory, family + ".json"));

    public static IReadOnlyList<TorchFixtureCase> LoadFile(string path)
    {
        var family = Path.GetFileNameWithoutExtension(path);
        using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
        var cases = new List<TorchFixtureCase>();
        foreach (var e in doc.RootElement.EnumerateArray())
        {
            var name = e.GetProperty("name").GetString()!;
            try
            {
                cases.Add(new TorchFixtureCase
                {
                    Family = family,
                    Name = name,
                    Op = e.GetProperty("op").GetString()!,
                    Attrs = e.TryGetProperty("attrs", out var a) ? a.Clone() : default,
                    Inputs = [.. e.GetProperty("inputs").EnumerateArray().Select(ParseTensor)],
                    Output = ParseTensor(e.GetProperty("output")),
                    GradOutput = ParseTensor(e.GetProperty("grad_output")),
                    Grads = [.. e.GetProperty("grads").EnumerateArray()
                        .Select(gr => gr.ValueKind == JsonValueKind.Null ? null : ParseTensor(gr))],
                });
            }
            catch (Exception ex) when (ex is not InvalidDataException)
            {
                throw new InvalidDataException($"{path}: case {name} is malformed: {ex.Message}", ex);
            }
        }
        return cases;
    }

    /// <summary>Parses <c>{"dtype": ..., "shape": [...], "data": [...flat row-major...]}</c>.</summary>
    public static Tensor ParseTensor(JsonElement e)
    {
        var dtype = e.GetProperty("dtype").GetString();
        int[] shape = [.. e.GetProperty("shape").EnumerateArray().Select(d => d.GetInt32())];
        var data = e.GetProperty("data");
        int n = data.GetArrayLength();
        int expected = 1;
        foreach (var d in shape) expected *= d;
        if (n != expected)
            throw new InvalidDataException($"tensor of shape [{string.Join(",", shape)}] carries {n} values, not {expected}.");
        Tensor t = dtype switch
        {
            "float64" => Tensor.FromArray(Read(data, n, v => v.GetDouble()), shape),
            // GetSingle parses the decimal text straight to the nearest float (no double rounding).
            "float32" => Tensor.FromArray(Read(data, n, v => v.GetSingle()), shape),
            "int64" => Tensor.FromArray(Read(data, n, v => v.GetInt64()), shape),
            "int32" => Tensor.FromArray(Read(data, n, v => v.GetInt32()), shape),
            "bool" => Tensor.FromArray(Read(data, n, v => v.GetBoolean()), shape),
            _ => throw new InvalidDataException($"unsupported fixture dtype '{dtype}'."),
        };
        if (t.Rank != shape.Length)
            throw new InvalidDataException($"tensor rank {t.Rank} does not match shape [{string.Join(",", shape)}].");
        return t;
    }

    private static T[] Read<T>(JsonElement data, int n, Func<JsonElement, T> read)
    {
        var result = new T[n];
        int i = 0;
        foreach (var v in data.EnumerateArray()) result[i++] = read(v);
        return result;
    }
}
