using Tessera.Graphs;

namespace Tessera.Tests.Graphs;

/// <summary>TfIdfVectorizer on hand-counted examples.</summary>
public class TfIdfOpTests
{
    private static double[] Eval(TfIdfVectorizerOp op, Tensor x)
    {
        var g = new Graph();
        var y = g.Apply(op, g.Constant(x));
        using var m = new TapeMachine(g);
        m.RunAll();
        return y.Value!.ToDoubleArray();
    }

    // Pool: unigrams 7, 9 (outputs 0, 1); bigram (7, 9) (output 2).
    private static TfIdfVectorizerOp Op(TfIdfMode mode, int min, int max, int skip, double[]? weights = null) =>
        new(min, max, skip, mode, [7, 9, 7, 9], [0, 2], [0, 1, 2], weights);

    [Fact]
    public void Tf_counts_unigrams_once_and_bigrams_per_skip_distance()
    {
        var x = Tensor.FromArray(new long[] { 7, 1, 9, 7, 9 }, 5);
        // Unigrams: 7 twice, 9 twice. Bigram (7, 9): adjacent at 3→4; one apart at 0→2; none further within skip 2.
        Assert.Equal(new double[] { 2, 2, 1 }, Eval(Op(TfIdfMode.TF, 1, 2, 0), x));
        Assert.Equal(new double[] { 2, 2, 2 }, Eval(Op(TfIdfMode.TF, 1, 2, 2), x));
        Assert.Equal(new double[] { 0, 0, 2 }, Eval(Op(TfIdfMode.TF, 2, 2, 2), x));
    }

    [Fact]
    public void Idf_and_tfidf_apply_the_weights_per_row()
    {
        var x = Tensor.FromArray(new int[] { 7, 7, 9, 1, 1, 1 }, 2, 3);
        double[] w = [0.5, 2, 3];
        Assert.Equal(new double[] { 0.5, 2, 3, 0, 0, 0 }, Eval(Op(TfIdfMode.IDF, 1, 2, 0, w), x));
        Assert.Equal(new double[] { 1, 2, 3, 0, 0, 0 }, Eval(Op(TfIdfMode.TFIDF, 1, 2, 0, w), x));
    }

    [Fact]
    public void A_pool_that_does_not_split_into_whole_ngrams_is_refused()
    {
        var e = Assert.Throws<ArgumentException>(() => new TfIdfVectorizerOp(1, 2, 0, TfIdfMode.TF, [7, 9, 7], [0, 2], [0, 1, 2], null));
        Assert.Contains("ngram_counts", e.Message);
        var g = new Graph();
        Assert.Throws<DTypeMismatchException>(() => g.Apply(Op(TfIdfMode.TF, 1, 1, 0), g.Input(DType.Float32, [3])));
    }
}
