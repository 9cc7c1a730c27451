using System.Diagnostics;
using Tessera;
using Tessera.Graphs;
using Tessera.Onnx;

/// <summary>Per-op-type time of one native run (each node executed by hand, in graph order).</summary>
static class OpProfile
{
    public static void Run(string path, int batch)
    {
        var proto = OnnxModelReader.ReadModel(path);
        var inits = OnnxImporter.ReadInitializers(proto, Path.GetDirectoryName(path));
        var g = OnnxImporter.Import(proto, inits, Path.GetDirectoryName(path));
        var x = g.Inputs[0];
        var shape = x.Shape.Select((d, i) => d < 0 ? batch : d).ToArray();
        var values = new Dictionary<Node, Tensor> { [x] = Tensor.RandomNormal(1, DType.Float32, 0, 1, shape) };
        var times = new Dictionary<string, (double Ms, int Count)>();
        for (int rep = 0; rep < 8; rep++)
        {
            times.Clear();
            foreach (var n in g.Graph.Nodes)
            {
                if (n.Kind == NodeKind.Constant) { values[n] = n.Value!; continue; }
                if (n.Kind != NodeKind.Operation || n.Inputs.Any(i => !values.ContainsKey(i))) continue;
                var args = n.Inputs.Select(i => values[i]).ToArray();
                var sw = Stopwatch.StartNew();
                var type = n.Operation!.InferType([.. args.Select(a => new TensorType(a.DType, a.ShapeArray()))], args);
                Tensor y;
                if (n.Operation.IsView) y = n.Operation.ForwardView(args);
                else { y = Tensor.Empty(type.DType, type.Shape); n.Operation.Forward(args, y); }
                var key = n.Operation.Name;
                var (ms, c) = times.GetValueOrDefault(key);
                times[key] = (ms + sw.Elapsed.TotalMilliseconds, c + 1);
                values[n] = y;
            }
        }
        foreach (var (k, v) in times.OrderByDescending(kv => kv.Value.Ms)) Console.WriteLine($"{k,-20} {v.Ms,9:F2} ms  x{v.Count}");
    }
}
