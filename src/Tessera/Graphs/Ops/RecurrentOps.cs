namespace Tessera.Graphs;

/// <summary>The cell of a <see cref="RecurrentOp"/>.</summary>
public enum RecurrentCell { Rnn, Gru, Lstm }

/// <summary>
/// ONNX RNN / GRU / LSTM over a whole sequence (reference loops in double). Inputs in ONNX order X, W, R, B,
/// sequence_lens, initial_h, initial_c, P, with <c>present</c> marking which were given; <c>output</c> selects
/// Y (0), Y_h (1) or Y_c (2). Gate orders follow ONNX: LSTM i,o,f,c; GRU z,r,h.
/// </summary>
public sealed class RecurrentOp(RecurrentCell cell, int hidden, string direction, bool linearBeforeReset, int layout,
    string[] activations, double[] alphas, double[] betas, double? clip, bool[] present, int output) : Operation
{
    public override string Name => cell.ToString().ToUpperInvariant();
    private int Directions => direction == "bidirectional" ? 2 : 1;
    private int Gates => cell switch { RecurrentCell.Lstm => 4, RecurrentCell.Gru => 3, _ => 1 };

    public override TensorType InferType(ReadOnlySpan<TensorType> inputs)
    {
        var x = inputs[0].Shape;
        ExpectFloat(inputs[0]);
        if (x.Length != 3) throw new ShapeMismatchException(Name, $"X {ShapeMath.Format(x)} must be 3-D");
        int seq = layout == 0 ? x[0] : x[1], batch = layout == 0 ? x[1] : x[0];
        int[] shape = output == 0
            ? (layout == 0 ? [seq, Directions, batch, hidden] : [batch, seq, Directions, hidden])
            : (layout == 0 ? [Directions, batch, hidden] : [batch, Directions, hidden]);
        return new TensorType(inputs[0].DType, shape);
    }

    private Tensor? Get(ReadOnlySpan<Tensor> inputs, int slot)
    {
        if (!present[slot]) return null;
        int k = 0;
        for (int i = 0; i < slot; i++) if (present[i]) k++;
        return inputs[k];
    }

    private double Act(int index, double v)
    {
        string name = activations[index];
        double a = index < alphas.Length ? alphas[index] : 0, b = index < betas.Length ? betas[index] : 0;
        return name switch
        {
            "Sigmoid" => 1 / (1 + Math.Exp(-v)),
            "Tanh" => Math.Tanh(v),
            "Relu" => Math.Max(0, v),
            "LeakyRelu" => v >= 0 ? v : (a == 0 ? 0.01 : a) * v,
            "HardSigmoid" => Math.Clamp((a == 0 ? 0.2 : a) * v + (b == 0 ? 0.5 : b), 0, 1),
            "Affine" => a * v + b,
            "ScaledTanh" => a * Math.Tanh(b * v),
            "Softsign" => v / (1 + Math.Abs(v)),
            "Softplus" => Math.Log(1 + Math.Exp(v)),
            _ => throw new NotSupportedException($"{Name}: activation {name} is not supported."),
        };
    }

    public override void Forward(ReadOnlySpan<Tensor> inputs, Tensor y)
    {
        var x = Get(inputs, 0)!; var w = Get(inputs, 1)!; var r = Get(inputs, 2)!;
        var bias = Get(inputs, 3); var lens = Get(inputs, 4); var h0 = Get(inputs, 5); var c0 = Get(inputs, 6); var peep = Get(inputs, 7);
        int seq = layout == 0 ? x.Shape[0] : x.Shape[1], batch = layout == 0 ? x.Shape[1] : x.Shape[0], inSize = x.Shape[2];
        int H = hidden, G = Gates, dirs = Directions;
        int perDirActs = cell switch { RecurrentCell.Lstm => 3, RecurrentCell.Gru => 2, _ => 1 };
        double X(int t, int b, int i) => x.GetDouble(layout == 0 ? (t * batch + b) * inSize + i : (b * seq + t) * inSize + i);
        var outY = new double[seq, dirs, batch, H];
        var outH = new double[dirs, batch, H];
        var outC = new double[dirs, batch, H];
        for (int d = 0; d < dirs; d++)
        {
            bool reverse = direction == "reverse" || d == 1;
            int a0 = d * perDirActs;
            for (int b = 0; b < batch; b++)
            {
                int len = lens is null ? seq : (int)lens.GetDouble(b);
                var h = new double[H]; var c = new double[H];
                for (int j = 0; j < H; j++)
                {
                    if (h0 is not null) h[j] = h0.GetDouble(layout == 0 ? (d * batch + b) * H + j : (b * dirs + d) * H + j);
                    if (c0 is not null) c[j] = c0.GetDouble(layout == 0 ? (d * batch + b) * H + j : (b * dirs + d) * H + j);
                }
                for (int s = 0; s < len; s++)
                {
                    int t = reverse ? len - 1 - s : s;
                    // gx = W·x_t + Wb, gh = R·h + Rb for every gate row.
                    var gx = new double[G * H]; var gh = new double[G * H];
                    for (int row = 0; row < G * H; row++)
                    {
                        double sx = bias is null ? 0 : bias.GetDouble(d * 2 * G * H + row);
                        for (int i = 0; i < inSize; i++) sx += w.GetDouble((d * G * H + row) * inSize + i) * X(t, b, i);
                        double sh = bias is null ? 0 : bias.GetDouble(d * 2 * G * H + G * H + row);
                        for (int i = 0; i < H; i++) sh += r.GetDouble((d * G * H + row) * H + i) * h[i];
                        gx[row] = sx; gh[row] = sh;
                    }
                    double Clip(double v) => clip is double cl ? Math.Clamp(v, -cl, cl) : v;
                    var hn = new double[H];
                    for (int j = 0; j < H; j++)
                    {
                        switch (cell)
                        {
                            case RecurrentCell.Rnn:
                                hn[j] = Act(a0, Clip(gx[j] + gh[j]));
                                break;
                            case RecurrentCell.Gru:
                            {
                                double z = Act(a0, Clip(gx[j] + gh[j]));
                                double rr = Act(a0, Clip(gx[H + j] + gh[H + j]));
                                double hh;
                                if (linearBeforeReset) hh = Act(a0 + 1, Clip(gx[2 * H + j] + rr * gh[2 * H + j]));
                                else
                                {
                                    double sh = bias is null ? 0 : bias.GetDouble(d * 2 * G * H + G * H + 2 * H + j);
                                    for (int i = 0; i < H; i++)
                                    {
                                        double rh = Act(a0, Clip(gx[H + i] + gh[H + i])) * h[i];
                                        sh += r.GetDouble((d * G * H + 2 * H + j) * H + i) * rh;
                                    }
                                    hh = Act(a0 + 1, Clip(gx[2 * H + j] + sh));
                                }
                                hn[j] = (1 - z) * hh + z * h[j];
                                break;
                            }
                            default:
                            {
                                double pi = peep is null ? 0 : peep.GetDouble(d * 3 * H + j), po = peep is null ? 0 : peep.GetDouble(d * 3 * H + H + j), pf = peep is null ? 0 : peep.GetDouble(d * 3 * H + 2 * H + j);
                                double ig = Act(a0, Clip(gx[j] + gh[j] + pi * c[j]));
                                double fg = Act(a0, Clip(gx[2 * H + j] + gh[2 * H + j] + pf * c[j]));
                                double cc = Act(a0 + 1, Clip(gx[3 * H + j] + gh[3 * H + j]));
                                double cn = fg * c[j] + ig * cc;
                                double og = Act(a0, Clip(gx[H + j] + gh[H + j] + po * cn));
                                hn[j] = og * Act(a0 + 2, cn);
                                c[j] = cn;
                                break;
                            }
                        }
                    }
                    hn.CopyTo(h, 0);
                    for (int j = 0; j < H; j++) outY[t, d, b, j] = h[j];
                }
                for (int j = 0; j < H; j++) { outH[d, b, j] = h[j]; outC[d, b, j] = c[j]; }
            }
        }
        int p = 0;
        if (output == 0)
        {
            if (layout == 0) foreach (var v in outY) y.SetDouble(p++, v);
            else for (int b = 0; b < batch; b++) for (int t = 0; t < seq; t++) for (int d = 0; d < dirs; d++) for (int j = 0; j < H; j++) y.SetDouble(p++, outY[t, d, b, j]);
        }
        else
        {
            var src = output == 1 ? outH : outC;
            if (layout == 0) foreach (var v in src) y.SetDouble(p++, v);
            else for (int b = 0; b < batch; b++) for (int d = 0; d < dirs; d++) for (int j = 0; j < H; j++) y.SetDouble(p++, src[d, b, j]);
        }
    }

    public override Node?[] Gradient(Node output, Node gy) => throw new NotSupportedException($"{Name} has no gradient rule.");
}
