using System.Diagnostics;
using System.Text.Json;
using Tessera.Graphs;
using Tessera.Solvers;

namespace Tessera.Bench;

/// <summary>
/// Effect of the tensor buffer pool on a training-like loop: an MLP 784-256-10 trained with Adam, a fresh batch
/// tensor every step (disposed after it), the last batch of each epoch smaller (so the machine re-plans twice
/// an epoch), and a new machine each epoch. Measured with the pool on and off: bytes allocated, GC counts, time.
/// </summary>
internal static class BufferPoolBenchmark
{
    public static int Run()
    {
        var rows = new List<object>();
        foreach (var pooled in new[] { false, true, false, true })
        {
            TensorBufferPool.Clear();
            TensorBufferPool.Enabled = pooled;
            GC.Collect(); GC.WaitForPendingFinalizers(); GC.Collect();
            int g0 = GC.CollectionCount(0), g1 = GC.CollectionCount(1), g2 = GC.CollectionCount(2);
            long bytes = GC.GetTotalAllocatedBytes(precise: true);
            var sw = Stopwatch.StartNew();
            int steps = TrainLoop(epochs: 4, stepsPerEpoch: 60);
            sw.Stop();
            rows.Add(new
            {
                pool = pooled,
                steps,
                mb_allocated = Math.Round((GC.GetTotalAllocatedBytes(precise: true) - bytes) / 1e6, 2),
                gen0 = GC.CollectionCount(0) - g0,
                gen1 = GC.CollectionCount(1) - g1,
                gen2 = GC.CollectionCount(2) - g2,
                seconds = Math.Round(sw.Elapsed.TotalSeconds, 3),
            });
        }
        TensorBufferPool.Enabled = true;
        Console.WriteLine(JsonSerializer.Serialize(rows));
        return 0;
    }

    private static int TrainLoop(int epochs, int stepsPerEpoch)
    {
        var g = new Graph();
        var x = g.Input(DType.Float32, [-1, 784], "x");
        var y = g.Input(DType.Float32, [-1, 10], "y");
        var w1 = g.Input(DType.Float32, [784, 256], "w1");
        var b1 = g.Input(DType.Float32, [256], "b1");
        var w2 = g.Input(DType.Float32, [256, 10], "w2");
        var b2 = g.Input(DType.Float32, [10], "b2");
        var logits = Ops.MatMul(Ops.Relu(Ops.MatMul(x, w1) + b1), w2) + b2;
        var loss = Ops.Mean(Ops.Neg(Ops.Sum(Ops.Mul(Ops.LogSoftmax(logits), y), [1])));
        Node[] parameters = [w1, b1, w2, b2];
        var grads = Autodiff.Grad(loss, parameters);
        Graph.Let(w1, Tensor.RandomNormal(1, DType.Float32, 0, 0.05, 784, 256));
        Graph.Let(b1, Tensor.Zeros(DType.Float32, 256));
        Graph.Let(w2, Tensor.RandomNormal(2, DType.Float32, 0, 0.05, 256, 10));
        Graph.Let(b2, Tensor.Zeros(DType.Float32, 10));
        var solver = new Adam(1e-3);
        var pairs = ValueGrad.Zip(parameters, grads);
        var rng = new Random(5);
        int steps = 0;
        for (int e = 0; e < epochs; e++)
        {
            using var m = new TapeMachine(g);
            for (int s = 0; s < stepsPerEpoch; s++)
            {
                int batch = s == stepsPerEpoch - 1 ? 17 : 64;
                using var xb = Tensor.Empty(DType.Float32, batch, 784);
                using var yb = Tensor.Zeros(DType.Float32, batch, 10);
                var xs = xb.AsSpan<float>();
                for (int i = 0; i < xs.Length; i++) xs[i] = (float)rng.NextDouble();
                for (int i = 0; i < batch; i++) yb.SetDouble(i * 10 + rng.Next(10), 1);
                Graph.Let(x, xb);
                Graph.Let(y, yb);
                m.RunAll();
                solver.Step(pairs);
                steps++;
            }
        }
        return steps;
    }
}
