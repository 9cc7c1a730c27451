using Tessera.Trees.Boosting;
using Tessera.Trees.Forest;

namespace Tessera.Trees.Onnx;

/// <summary>
/// Writes a tree ensemble as an ONNX-ML model: TreeEnsembleClassifier (outputs "label" int64 [N] and
/// "probabilities" float [N, classes]) or TreeEnsembleRegressor (output "variable" float [N, 1]); the input is
/// "input", float [N, features] in the model's column order (categorical columns as their training codes).
/// </summary>
/// <remarks>
/// Labels are class indices (see the model's ClassLabels for names). The base margin is folded into the first
/// tree of each output. Categorical splits have no ONNX-ML equivalent (BRANCH_EQ tests one value) and are refused.
/// </remarks>
public static class OnnxTreeExporter
{
    private const int AttrInt = 2, AttrString = 3, AttrFloats = 6, AttrInts = 7, AttrStrings = 8;
    private const int ElemFloat = 1, ElemInt64 = 7;

    public static void Save(BoostedTreesModel model, string path) => File.WriteAllBytes(path, Export(model));
    public static void Save(RandomForestModel model, string path) => File.WriteAllBytes(path, Export(model));

    public static byte[] Export(BoostedTreesModel model)
    {
        string transform = model.ObjectiveName switch
        {
            "binary:logistic" => "LOGISTIC",
            "multi:softprob" or "multi:softmax" => "SOFTMAX",
            "reg:squarederror" or "reg:absoluteerror" or "reg:pseudohubererror" => "NONE",
            _ => throw new NotSupportedException($"objective {model.ObjectiveName} cannot be exported to ONNX."),
        };
        int k = model.Outputs;
        // (tree, node, output, weight) per leaf; the base margin goes into the first tree of each output.
        var leaves = new List<(int Tree, int Node, int Output, double Weight)>();
        for (int t = 0; t < model.Trees.Count; t++)
        {
            var tree = model.Trees[t];
            for (int i = 0; i < tree.NodeCount; i++)
                if (tree.Left[i] < 0) leaves.Add((t, i, t % k, tree.Values[i] + (t < k ? model.BaseMargin : 0)));
        }
        var nodes = Nodes(model.Trees, model.Columns);
        return model.IsClassification
            ? Classifier(nodes, leaves, model.ClassCount, transform, model.Columns.Count)
            : Regressor(nodes, leaves, model.Columns.Count);
    }

    public static byte[] Export(RandomForestModel model)
    {
        int k = model.Outputs;
        double scale = 1.0 / model.Trees.Count;
        var leaves = new List<(int Tree, int Node, int Output, double Weight)>();
        for (int t = 0; t < model.Trees.Count; t++)
        {
            var tree = model.Trees[t];
            for (int i = 0; i < tree.NodeCount; i++)
                if (tree.Left[i] < 0)
                    for (int c = 0; c < k; c++) leaves.Add((t, i, c, tree.Values[i * k + c] * scale));
        }
        var nodes = Nodes(model.Trees, model.Columns);
        return model.IsClassification
            ? Classifier(nodes, leaves, k, "NONE", model.Columns.Count)
            : Regressor(nodes, leaves, model.Columns.Count);
    }

    private sealed record NodeArrays(List<long> TreeIds, List<long> NodeIds, List<long> FeatureIds, List<string> Modes,
        List<float> Values, List<long> TrueIds, List<long> FalseIds, List<long> MissingTrue);

    private static NodeArrays Nodes(IReadOnlyList<DecisionTree> trees, IReadOnlyList<Data.FeatureColumn> columns)
    {
        var a = new NodeArrays([], [], [], [], [], [], [], []);
        for (int t = 0; t < trees.Count; t++)
        {
            var tree = trees[t];
            for (int i = 0; i < tree.NodeCount; i++)
            {
                bool leaf = tree.Left[i] < 0;
                if (!leaf && tree.CategorySet[i] >= 0)
                    throw new NotSupportedException(
                        $"tree {t} splits categorical column '{columns[tree.Feature[i]].Name}' by category set, which ONNX-ML trees cannot express.");
                a.TreeIds.Add(t);
                a.NodeIds.Add(i);
                a.FeatureIds.Add(leaf ? 0 : tree.Feature[i]);
                a.Modes.Add(leaf ? "LEAF" : "BRANCH_LT");
                a.Values.Add(leaf ? 0 : tree.Threshold[i]);
                a.TrueIds.Add(leaf ? 0 : tree.Left[i]);
                a.FalseIds.Add(leaf ? 0 : tree.Right[i]);
                a.MissingTrue.Add(!leaf && tree.DefaultLeft[i] ? 1 : 0);
            }
        }
        return a;
    }

    private static void AddNodeAttributes(ProtoWriter node, NodeArrays n)
    {
        node.Message(5, Ints("nodes_treeids", n.TreeIds));
        node.Message(5, Ints("nodes_nodeids", n.NodeIds));
        node.Message(5, Ints("nodes_featureids", n.FeatureIds));
        node.Message(5, Strings("nodes_modes", n.Modes));
        node.Message(5, Floats("nodes_values", n.Values));
        node.Message(5, Ints("nodes_truenodeids", n.TrueIds));
        node.Message(5, Ints("nodes_falsenodeids", n.FalseIds));
        node.Message(5, Ints("nodes_missing_value_tracks_true", n.MissingTrue));
    }

    private static byte[] Classifier(NodeArrays nodes, List<(int Tree, int Node, int Output, double Weight)> leaves, int classes, string transform, int features)
    {
        var node = new ProtoWriter().String(1, "input").String(2, "label").String(2, "probabilities")
            .String(3, "TreeEnsembleClassifier").String(4, "TreeEnsembleClassifier").String(7, "ai.onnx.ml");
        AddNodeAttributes(node, nodes);
        node.Message(5, Ints("class_treeids", leaves.Select(l => (long)l.Tree)));
        node.Message(5, Ints("class_nodeids", leaves.Select(l => (long)l.Node)));
        // Binary boosting has one score per leaf: ONNX Runtime's binary case scores class 1 from weights on class 0.
        node.Message(5, Ints("class_ids", leaves.Select(l => (long)l.Output)));
        node.Message(5, Floats("class_weights", leaves.Select(l => (float)l.Weight)));
        node.Message(5, Ints("classlabels_int64s", Enumerable.Range(0, classes).Select(c => (long)c)));
        node.Message(5, Str("post_transform", transform));
        return Model(node, features, [("label", ElemInt64, false), ("probabilities", ElemFloat, true)], classes);
    }

    private static byte[] Regressor(NodeArrays nodes, List<(int Tree, int Node, int Output, double Weight)> leaves, int features)
    {
        var node = new ProtoWriter().String(1, "input").String(2, "variable")
            .String(3, "TreeEnsembleRegressor").String(4, "TreeEnsembleRegressor").String(7, "ai.onnx.ml");
        AddNodeAttributes(node, nodes);
        node.Message(5, Ints("target_treeids", leaves.Select(l => (long)l.Tree)));
        node.Message(5, Ints("target_nodeids", leaves.Select(l => (long)l.Node)));
        node.Message(5, Ints("target_ids", leaves.Select(_ => 0L)));
        node.Message(5, Floats("target_weights", leaves.Select(l => (float)l.Weight)));
        node.Message(5, Int("n_targets", 1));
        node.Message(5, Str("aggregate_function", "SUM"));
        node.Message(5, Str("post_transform", "NONE"));
        return Model(node, features, [("variable", ElemFloat, true)], 1);
    }

    private static byte[] Model(ProtoWriter node, int features, (string Name, int Elem, bool Matrix)[] outputs, int width)
    {
        var graph = new ProtoWriter().Message(1, node).String(2, "tessera_trees")
            .Message(11, ValueInfo("input", ElemFloat, [null, features]));
        foreach (var (name, elem, matrix) in outputs)
            graph.Message(12, ValueInfo(name, elem, matrix ? [null, width] : [null]));
        return new ProtoWriter()
            .Int(1, 8)                                              // ir_version
            .String(2, "Tessera.Trees")                             // producer_name
            .Message(7, graph)
            .Message(8, new ProtoWriter().String(1, "").Int(2, 17)) // opset_import: default domain 17
            .Message(8, new ProtoWriter().String(1, "ai.onnx.ml").Int(2, 3))
            .ToArray();
    }

    private static ProtoWriter ValueInfo(string name, int elem, int?[] dims)
    {
        var shape = new ProtoWriter();
        foreach (int? d in dims) shape.Message(1, d is { } v ? new ProtoWriter().Int(1, v) : new ProtoWriter().String(2, "N"));
        var tensor = new ProtoWriter().Int(1, elem).Message(2, shape);
        return new ProtoWriter().String(1, name).Message(2, new ProtoWriter().Message(1, tensor));
    }

    private static ProtoWriter Ints(string name, IEnumerable<long> v) => new ProtoWriter().String(1, name).Int(20, AttrInts).PackedInts(8, v);
    private static ProtoWriter Floats(string name, IEnumerable<float> v) => new ProtoWriter().String(1, name).Int(20, AttrFloats).PackedFloats(7, v);
    private static ProtoWriter Int(string name, long v) => new ProtoWriter().String(1, name).Int(20, AttrInt).Int(3, v);
    private static ProtoWriter Str(string name, string v) => new ProtoWriter().String(1, name).Int(20, AttrString).String(4, v);

    private static ProtoWriter Strings(string name, IEnumerable<string> v)
    {
        var w = new ProtoWriter().String(1, name).Int(20, AttrStrings);
        foreach (var s in v) w.String(9, s);
        return w;
    }
}
