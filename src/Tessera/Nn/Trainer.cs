using System.Diagnostics;
using Tessera.Data;
using Tessera.Graphs;
using Tessera.Solvers;

namespace Tessera.Nn;

/// <summary>Progress of one training step, for progress bars.</summary>
public readonly record struct StepProgress(int Epoch, int Step, int StepsPerEpoch, double Loss, double Accuracy, double SamplesPerSecond);

/// <summary>The loss became NaN or infinite; the message names the epoch and step.</summary>
public sealed class TrainingDivergedException(string message) : Exception(message);

/// <summary>
/// Fits a classification network with cross-entropy: builds a training graph (forward, loss, symbolic gradients)
/// and an evaluation graph over the same parameter tensors, streams batches from a prefetching
/// <see cref="DataLoader"/>, steps the configured solver, and checkpoints after every epoch. Every source of
/// randomness (initialization, shuffling, dropout) is derived from the config seed and the epoch number, so a run
/// resumed from a checkpoint ends with exactly the weights of an uninterrupted run.
/// </summary>
public sealed class Trainer : IDisposable
{
    private readonly Graph _trainGraph = new();
    private readonly Graph _evalGraph = new();
    private readonly ForwardContext _trainCtx;
    private readonly Node _x, _y, _loss, _logits;
    private readonly Node _ex, _ey, _eLoss, _eLogits;
    private readonly ValueGrad[] _pairs;
    private readonly TapeMachine _trainMachine, _evalMachine;
    private readonly (string Name, Parameter Parameter)[] _named;

    public Trainer(TrainingConfig config)
    {
        Config = config;
        Model = config.Model.Build(config.Seed);
        _named = [.. Model.NamedParameters()];
        int[] sample = config.Model.SampleShape;

        _trainCtx = new ForwardContext(_trainGraph, training: true, seed: config.Seed);
        _x = _trainGraph.Input(DType.Float32, [-1, .. sample], "x");
        _y = _trainGraph.Input(DType.Int64, [-1], "y");
        _logits = Model.Forward(_x, _trainCtx);
        _loss = Losses.CrossEntropy(_logits, _y, config.LabelSmoothing);
        var trainable = _named.Where(p => p.Parameter.Trainable).Select(p => _trainCtx.Bind(p.Parameter)).ToArray();
        var grads = Autodiff.Grad(_loss, trainable);
        _pairs = ValueGrad.Zip(trainable, grads);
        _trainMachine = new TapeMachine(_trainGraph, [_loss, _logits, .. grads]);

        var evalCtx = new ForwardContext(_evalGraph, training: false, seed: config.Seed);
        _ex = _evalGraph.Input(DType.Float32, [-1, .. sample], "x");
        _ey = _evalGraph.Input(DType.Int64, [-1], "y");
        _eLogits = Model.Forward(_ex, evalCtx);
        _eLoss = Losses.CrossEntropy(_eLogits, _ey);
        _evalMachine = new TapeMachine(_evalGraph, _eLoss, _eLogits);

        Solver = config.CreateSolver();
    }

    public TrainingConfig Config { get; }
    public Module Model { get; }
    public Solver Solver { get; }
    public List<EpochMetrics> History { get; } = [];
    public int EpochsDone => History.Count;

    /// <summary>The training-graph executor (e.g. to turn on <see cref="TapeMachine.Profiling"/>).</summary>
    public TapeMachine TrainMachine => _trainMachine;

    /// <summary>The training loss node: nodes created up to it are the forward pass, later ones the gradients.</summary>
    public Node TrainLoss => _loss;

    /// <summary>
    /// While <see cref="TapeMachine.Profiling"/> is on: seconds per phase of the training loop ("data" = waiting for
    /// the next batch, "graph" = forward + backward run, "optimizer", "metrics" = loss read-back, accuracy, progress).
    /// </summary>
    public Dictionary<string, double> PhaseProfile { get; } = [];

    /// <summary>Reloads a checkpoint: same config, parameters, optimizer state and history; training continues after it.</summary>
    public static Trainer Resume(string checkpointDir)
    {
        var (info, tensors) = Checkpoint.Load(checkpointDir);
        var trainer = new Trainer(info.Config);
        foreach (var (name, p) in trainer._named)
        {
            if (!tensors.TryGetValue("model." + name, out var t))
                throw new InvalidDataException($"Checkpoint in {checkpointDir} has no tensor for parameter '{name}'.");
            p.Load(t);
        }
        foreach (var pair in trainer._pairs)
        {
            var name = trainer._named.First(n => trainer._trainCtx.Bound[n.Parameter] == pair.Value).Name;
            var slots = tensors.Where(kv => kv.Key.StartsWith($"optim.{name}.", StringComparison.Ordinal)).OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => kv.Value).ToList();
            if (slots.Count > 0) trainer.Solver.RestoreState(pair.Value, slots, info.OptimizerSteps);
        }
        trainer.History.AddRange(info.History);
        return trainer;
    }

    /// <summary>
    /// Trains until <see cref="TrainingConfig.Epochs"/> epochs are done (counting those before a resume), or early
    /// stopping, or (if given) <paramref name="untilEpoch"/>. With <paramref name="checkpointDir"/>, saves a checkpoint
    /// after every epoch.
    /// </summary>
    public IReadOnlyList<EpochMetrics> Fit(IDataset train, IDataset? validation = null, string? checkpointDir = null,
        IProgress<StepProgress>? progress = null, CancellationToken cancel = default, int workers = 2, int? untilEpoch = null)
    {
        CheckSampleShape(train, "training");
        if (validation is not null) CheckSampleShape(validation, "validation");
        var loader = new DataLoader(train, Config.BatchSize, shuffle: true, workers: workers);
        int stepsPerEpoch = loader.BatchesPerEpoch;
        long totalSteps = (long)stepsPerEpoch * Config.Epochs;
        double bestValidation = double.PositiveInfinity;
        int sinceBest = 0;
        foreach (var m in History.Where(m => m.ValidationLoss is not null))
        {
            if (m.ValidationLoss < bestValidation) { bestValidation = m.ValidationLoss.Value; sinceBest = 0; } else sinceBest++;
        }
        int lastEpoch = Math.Min(Config.Epochs, untilEpoch ?? int.MaxValue);
        for (int epoch = EpochsDone + 1; epoch <= lastEpoch; epoch++)
        {
            if (Config.EarlyStoppingPatience > 0 && sinceBest >= Config.EarlyStoppingPatience) break;
            _trainCtx.Reseed(ForwardContext.DeriveSeed(Config.Seed, 2_000_000 + epoch));
            var clock = Stopwatch.StartNew();
            double lossSum = 0; long correct = 0, seen = 0;
            int step = 0;
            bool profile = _trainMachine.Profiling;
            long mark = Stopwatch.GetTimestamp();
            foreach (var batch in loader.Epoch(ForwardContext.DeriveSeed(Config.Seed, 1_000_000 + epoch), cancel))
            {
                if (profile) AddPhase("data", ref mark);
                using (batch)
                {
                    long globalStep = (long)(epoch - 1) * stepsPerEpoch + step;
                    Solver.LearningRate = Config.Schedule.Rate(Config.LearningRate, globalStep, stepsPerEpoch, totalSteps);
                    Graph.Let(_x, batch.Features);
                    Graph.Let(_y, batch.Labels);
                    _trainMachine.RunAll();
                    if (profile) AddPhase("graph", ref mark);
                    double loss = _loss.Value!.ToScalar();
                    if (!double.IsFinite(loss))
                        throw new TrainingDivergedException($"The training loss became {loss} at epoch {epoch}, step {step + 1}; training stopped" +
                            (checkpointDir is null ? "." : $" and the last good checkpoint in {checkpointDir} is intact."));
                    if (Config.GradClipNorm > 0) ClipGradients(Config.GradClipNorm);
                    if (profile) AddPhase("metrics", ref mark);
                    Solver.Step(_pairs);
                    _trainCtx.AfterStep();
                    if (profile) AddPhase("optimizer", ref mark);
                    lossSum += loss * batch.Size;
                    correct += CountCorrect(_logits.Value!, batch.Labels);
                    seen += batch.Size;
                    step++;
                    progress?.Report(new StepProgress(epoch, step, stepsPerEpoch, lossSum / seen, correct / (double)seen, seen / clock.Elapsed.TotalSeconds));
                }
                if (profile) AddPhase("metrics", ref mark);
            }
            double trainSeconds = clock.Elapsed.TotalSeconds;
            (double Loss, double Accuracy)? val = validation is null ? null : Evaluate(validation);
            var metrics = new EpochMetrics(epoch, lossSum / seen, correct / (double)seen, val?.Loss, val?.Accuracy,
                trainSeconds, seen / trainSeconds, Solver.LearningRate);
            History.Add(metrics);
            if (val is { } v)
            {
                if (v.Loss < bestValidation) { bestValidation = v.Loss; sinceBest = 0; } else sinceBest++;
            }
            if (checkpointDir is not null) SaveCheckpoint(checkpointDir);
        }
        return History;
    }

    /// <summary>Mean cross-entropy and accuracy over a dataset, in eval mode.</summary>
    public (double Loss, double Accuracy) Evaluate(IDataset data, int batchSize = 500)
    {
        CheckSampleShape(data, "evaluation");
        var loader = new DataLoader(data, batchSize, shuffle: false, workers: 1);
        double lossSum = 0; long correct = 0, seen = 0;
        foreach (var batch in loader.Epoch(0))
        {
            using (batch)
            {
                Graph.Let(_ex, batch.Features);
                Graph.Let(_ey, batch.Labels);
                _evalMachine.RunAll();
                lossSum += _eLoss.Value!.ToScalar() * batch.Size;
                correct += CountCorrect(_eLogits.Value!, batch.Labels);
                seen += batch.Size;
            }
        }
        return seen == 0 ? (double.NaN, double.NaN) : (lossSum / seen, correct / (double)seen);
    }

    /// <summary>Logits for a batch of samples (eval mode). The returned tensor is reused by the next call.</summary>
    public Tensor Predict(Tensor features)
    {
        Graph.Let(_ex, features);
        Graph.Let(_ey, Tensor.Zeros(DType.Int64, features.Shape[0]));
        _evalMachine.RunAll();
        return _eLogits.Value!;
    }

    public void SaveCheckpoint(string dir)
    {
        var tensors = new List<(string, Tensor)>();
        foreach (var (name, p) in _named) tensors.Add(("model." + name, p.Value));
        foreach (var (name, p) in _named)
        {
            if (!_trainCtx.Bound.TryGetValue(p, out var node) || !Solver.State.TryGetValue(node, out var state)) continue;
            for (int i = 0; i < state.Length; i++) tensors.Add(($"optim.{name}.{i}", state[i]));
        }
        Checkpoint.Save(dir, new CheckpointInfo("", EpochsDone, Solver.Steps, "", "", Config, History), tensors);
    }

    private void AddPhase(string phase, ref long mark)
    {
        long now = Stopwatch.GetTimestamp();
        PhaseProfile[phase] = PhaseProfile.GetValueOrDefault(phase) + Stopwatch.GetElapsedTime(mark, now).TotalSeconds;
        mark = now;
    }

    private void ClipGradients(double maxNorm)
    {
        double sq = 0;
        foreach (var p in _pairs)
        {
            var g = p.Grad.Value!.Contiguous();
            sq += System.Numerics.Tensors.TensorPrimitives.SumOfSquares(g.AsSpan<float>());
        }
        double norm = Math.Sqrt(sq);
        if (norm <= maxNorm) return;
        float scale = (float)(maxNorm / (norm + 1e-6));
        foreach (var p in _pairs)
        {
            var g = p.Grad.Value!;
            if (!g.IsContiguous) continue;
            var s = g.AsSpan<float>();
            System.Numerics.Tensors.TensorPrimitives.Multiply(s, scale, s);
        }
    }

    private static long CountCorrect(Tensor logits, Tensor labels)
    {
        var l = logits.Contiguous();
        int n = l.Shape[0], c = l.Shape[1];
        var ls = l.AsSpan<float>();
        var ys = labels.AsSpan<long>();
        long correct = 0;
        for (int i = 0; i < n; i++)
            if (System.Numerics.Tensors.TensorPrimitives.IndexOfMax(ls.Slice(i * c, c)) == ys[i]) correct++;
        return correct;
    }

    private void CheckSampleShape(IDataset data, string what)
    {
        if (!data.SampleShape.SequenceEqual(Config.Model.SampleShape))
            throw new ShapeMismatchException("Trainer", $"{what} samples have shape {ShapeMath.Format(data.SampleShape)}, the model expects {ShapeMath.Format(Config.Model.SampleShape)}");
    }

    public void Dispose()
    {
        _trainMachine.Dispose();
        _evalMachine.Dispose();
    }
}
