using System.Text.Json;
using System.Text.Json.Serialization;
using Tessera.Solvers;

namespace Tessera.Nn;

/// <summary>Learning-rate schedule: none, step (×gamma every stepEpochs), cosine (to 0 over the run); optional linear warmup.</summary>
public sealed record ScheduleConfig(string Kind = "none", int StepEpochs = 1, double Gamma = 0.1, int WarmupSteps = 0)
{
    /// <summary>The rate at a global step, for a run of <paramref name="totalSteps"/>.</summary>
    public double Rate(double baseRate, long step, int stepsPerEpoch, long totalSteps)
    {
        double rate = Kind switch
        {
            "step" => baseRate * Math.Pow(Gamma, step / Math.Max(1, (long)stepsPerEpoch * StepEpochs)),
            "cosine" => baseRate * 0.5 * (1 + Math.Cos(Math.PI * Math.Min(1, step / (double)Math.Max(1, totalSteps)))),
            _ => baseRate,
        };
        if (WarmupSteps > 0 && step < WarmupSteps) rate *= (step + 1) / (double)WarmupSteps;
        return rate;
    }
}

/// <summary>Everything `tessera train` needs besides the data: the network and how to fit it. Validated on construction.</summary>
public sealed record TrainingConfig
{
    public static readonly string[] OptimizerNames = ["adam", "adamw", "sgd", "rmsprop"];

    [JsonConstructor]
    public TrainingConfig(NetworkConfig model, string optimizer = "adam", double learningRate = 1e-3, int batchSize = 64,
        int seed = 1, double weightDecay = 0, double momentum = 0.9, double labelSmoothing = 0, ScheduleConfig? schedule = null,
        double gradClipNorm = 0, int earlyStoppingPatience = 0, int epochs = 10)
    {
        Model = model ?? throw new ConfigException("model", "is missing");
        if (Array.IndexOf(OptimizerNames, optimizer) < 0)
            throw new ConfigException("optimizer", $"unknown optimizer '{optimizer}' (expected one of {string.Join(", ", OptimizerNames)})");
        if (!(learningRate > 0) || double.IsInfinity(learningRate)) throw new ConfigException("learningRate", $"must be positive, got {learningRate}");
        if (batchSize < 1) throw new ConfigException("batchSize", $"must be ≥ 1, got {batchSize}");
        if (weightDecay < 0) throw new ConfigException("weightDecay", $"must be ≥ 0, got {weightDecay}");
        if (labelSmoothing is < 0 or > 1) throw new ConfigException("labelSmoothing", $"must be in [0, 1], got {labelSmoothing}");
        if (gradClipNorm < 0) throw new ConfigException("gradClipNorm", $"must be ≥ 0 (0 = off), got {gradClipNorm}");
        if (epochs < 1) throw new ConfigException("epochs", $"must be ≥ 1, got {epochs}");
        schedule ??= new ScheduleConfig();
        if (schedule.Kind is not ("none" or "step" or "cosine")) throw new ConfigException("schedule.kind", $"unknown schedule '{schedule.Kind}' (none, step, cosine)");
        Optimizer = optimizer; LearningRate = learningRate; BatchSize = batchSize; Seed = seed; WeightDecay = weightDecay;
        Momentum = momentum; LabelSmoothing = labelSmoothing; Schedule = schedule; GradClipNorm = gradClipNorm;
        EarlyStoppingPatience = earlyStoppingPatience; Epochs = epochs;
    }

    public NetworkConfig Model { get; }
    public string Optimizer { get; }
    public double LearningRate { get; }
    public int BatchSize { get; }
    public int Seed { get; }
    public double WeightDecay { get; }
    public double Momentum { get; }
    public double LabelSmoothing { get; }
    public ScheduleConfig Schedule { get; }
    public double GradClipNorm { get; }
    public int EarlyStoppingPatience { get; }
    public int Epochs { get; }

    public Solver CreateSolver() => Optimizer switch
    {
        "adam" => new Adam(LearningRate, weightDecay: WeightDecay),
        "adamw" => new AdamW(LearningRate, weightDecay: WeightDecay),
        "sgd" => new Sgd(LearningRate, momentum: Momentum, weightDecay: WeightDecay),
        _ => new RmsProp(LearningRate, weightDecay: WeightDecay),
    };

    public string ToJson() => JsonSerializer.Serialize(this, NnJsonContext.Default.TrainingConfig);

    public static TrainingConfig FromJson(string json)
    {
        try
        {
            return JsonSerializer.Deserialize(json, NnJsonContext.Default.TrainingConfig) ?? throw new ConfigException("config", "is empty");
        }
        catch (JsonException e)
        {
            throw new ConfigException(e.Path ?? "config", e.Message);
        }
    }
}
