namespace Tessera.Text.Classification;

/// <summary>
/// Multinomial logistic regression over sparse features: p(k|x) = softmax(W x + b), trained by AdaGrad on the
/// cross-entropy with L2 decay on the weights each example touches.
/// </summary>
public sealed class SoftmaxRegression
{
    public SoftmaxRegression(int classes, int dimension)
    {
        Classes = classes;
        Dimension = dimension;
        Weights = new float[classes * dimension];
        Bias = new float[classes];
    }

    public SoftmaxRegression(int classes, int dimension, float[] weights, float[] bias)
    {
        if (weights.Length != classes * dimension || bias.Length != classes) throw new ArgumentException("weights must be classes × dimension");
        Classes = classes;
        Dimension = dimension;
        Weights = weights;
        Bias = bias;
    }

    public int Classes { get; }
    public int Dimension { get; }

    /// <summary>Class-major weights: Weights[k * Dimension + j].</summary>
    public float[] Weights { get; }
    public float[] Bias { get; }

    /// <summary>Class probabilities for a sparse vector, written to <paramref name="probs"/>.</summary>
    public void Predict(ReadOnlySpan<int> index, ReadOnlySpan<float> value, Span<float> probs)
    {
        float max = float.NegativeInfinity;
        for (int k = 0; k < Classes; k++)
        {
            float z = Bias[k];
            int row = k * Dimension;
            for (int i = 0; i < index.Length; i++) z += Weights[row + index[i]] * value[i];
            probs[k] = z;
            if (z > max) max = z;
        }
        float sum = 0;
        for (int k = 0; k < Classes; k++) { probs[k] = MathF.Exp(probs[k] - max); sum += probs[k]; }
        for (int k = 0; k < Classes; k++) probs[k] /= sum;
    }

    /// <summary>Trains in place; returns the mean training loss of each epoch.</summary>
    public List<double> Train(IReadOnlyList<(int[] Index, float[] Value)> xs, IReadOnlyList<int> ys, int epochs = 10,
        float learningRate = 0.5f, float l2 = 1e-6f, int seed = 1)
    {
        if (xs.Count != ys.Count) throw new ArgumentException("one label per example");
        var g2w = new float[Weights.Length];
        var g2b = new float[Classes];
        var probs = new float[Classes];
        var order = Enumerable.Range(0, xs.Count).ToArray();
        var rng = new Random(seed);
        var losses = new List<double>();
        const float eps = 1e-8f;
        for (int epoch = 0; epoch < epochs; epoch++)
        {
            rng.Shuffle(order);
            double loss = 0;
            foreach (int n in order)
            {
                var (index, value) = xs[n];
                int y = ys[n];
                Predict(index, value, probs);
                loss -= Math.Log(Math.Max(probs[y], 1e-12f));
                for (int k = 0; k < Classes; k++)
                {
                    float err = probs[k] - (k == y ? 1f : 0f);
                    int row = k * Dimension;
                    for (int i = 0; i < index.Length; i++)
                    {
                        int j = row + index[i];
                        float g = err * value[i] + l2 * Weights[j];
                        g2w[j] += g * g;
                        Weights[j] -= learningRate * g / (MathF.Sqrt(g2w[j]) + eps);
                    }
                    g2b[k] += err * err;
                    Bias[k] -= learningRate * err / (MathF.Sqrt(g2b[k]) + eps);
                }
            }
            losses.Add(loss / Math.Max(1, xs.Count));
        }
        return losses;
    }
}
