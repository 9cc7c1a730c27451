using System.Text.Json;
using System.Text.Json.Serialization;
using Tessera.Trees.Data;

namespace Tessera.Trees;

/// <summary>JSON form of a tree ensemble (boosted or forest); see docs/trees.md for the layout.</summary>
internal sealed class ModelDocument
{
    public string Format { get; set; } = "tessera-trees";
    public int Version { get; set; } = 1;
    /// <summary>"gradient_boosting" or "random_forest".</summary>
    public string Kind { get; set; } = "";
    public string Objective { get; set; } = "";
    public int Outputs { get; set; }
    public double BaseMargin { get; set; }
    public double HuberSlope { get; set; } = 1;
    public string Label { get; set; } = "label";
    public List<string>? ClassLabels { get; set; }
    public List<ColumnDocument> Columns { get; set; } = [];
    public List<TreeDocument> Trees { get; set; } = [];
    public int BestIteration { get; set; } = -1;
    public double? OobScore { get; set; }
}

internal sealed class ColumnDocument
{
    public string Name { get; set; } = "";
    public bool Categorical { get; set; }
    public List<string>? Categories { get; set; }

    public static ColumnDocument From(FeatureColumn c) => new() { Name = c.Name, Categorical = c.IsCategorical, Categories = c.IsCategorical ? c.Categories.ToList() : null };
    public FeatureColumn ToColumn() => new(Name, Categorical, (IReadOnlyList<string>?)Categories ?? Array.Empty<string>());
}

internal sealed class TreeDocument
{
    public int[] Feature { get; set; } = [];
    public float[] Threshold { get; set; } = [];
    public bool[] DefaultLeft { get; set; } = [];
    public int[] Left { get; set; } = [];
    public int[] Right { get; set; } = [];
    public int[] CategorySet { get; set; } = [];
    public ulong[][] CategorySets { get; set; } = [];
    public double[] Values { get; set; } = [];
    public int Outputs { get; set; } = 1;
    public double[] Gain { get; set; } = [];
    public double[] Cover { get; set; } = [];

    public static TreeDocument From(DecisionTree t) => new()
    {
        Feature = t.Feature, Threshold = t.Threshold, DefaultLeft = t.DefaultLeft, Left = t.Left, Right = t.Right,
        CategorySet = t.CategorySet, CategorySets = t.CategorySets, Values = t.Values, Outputs = t.Outputs, Gain = t.Gain, Cover = t.Cover,
    };

    public DecisionTree ToTree(int columns, int index)
    {
        int n = Left.Length;
        bool ok = n > 0 && Right.Length == n && Feature.Length == n && Threshold.Length == n && DefaultLeft.Length == n
            && CategorySet.Length == n && Values.Length == n * Outputs && Gain.Length == n && Cover.Length == n;
        for (int i = 0; ok && i < n; i++)
        {
            if (Left[i] < 0) continue;
            ok = Left[i] > i && Left[i] < n && Right[i] > i && Right[i] < n && Feature[i] >= 0 && Feature[i] < columns
                && CategorySet[i] < CategorySets.Length && (CategorySet[i] < 0 || CategorySets[CategorySet[i]].Length == 4);
        }
        if (!ok) throw new InvalidDataException($"tree {index} in the model file is malformed (array lengths or child/feature indices).");
        return new DecisionTree
        {
            Feature = Feature, Threshold = Threshold, DefaultLeft = DefaultLeft, Left = Left, Right = Right, CategorySet = CategorySet,
            CategorySets = CategorySets, Values = Values, Outputs = Outputs, Gain = Gain, Cover = Cover,
        };
    }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ModelDocument))]
internal sealed partial class ModelJsonContext : JsonSerializerContext;

internal static class ModelJson
{
    public static void Write(string path, ModelDocument doc)
    {
        using var stream = File.Create(path);
        JsonSerializer.Serialize(stream, doc, ModelJsonContext.Default.ModelDocument);
    }

    public static ModelDocument Read(string path, string expectedKind)
    {
        ModelDocument? doc;
        try
        {
            using var stream = File.OpenRead(path);
            doc = JsonSerializer.Deserialize(stream, ModelJsonContext.Default.ModelDocument);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"'{path}' is not a Tessera trees model: {e.Message}", e);
        }
        if (doc is null || doc.Format != "tessera-trees")
            throw new InvalidDataException($"'{path}' is not a Tessera trees model (format is '{doc?.Format}').");
        if (doc.Kind != expectedKind)
            throw new InvalidDataException($"'{path}' holds a {doc.Kind} model, not {expectedKind}.");
        return doc;
    }
}
