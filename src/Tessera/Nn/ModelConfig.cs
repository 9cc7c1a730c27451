using System.Text.Json;
using System.Text.Json.Serialization;

namespace Tessera.Nn;

/// <summary>An invalid model or training configuration; the message names the offending field.</summary>
public sealed class ConfigException(string field, string problem) : ArgumentException($"{field}: {problem}")
{
    public string Field { get; } = field;
}

/// <summary>Activation functions a config can name.</summary>
public static class Activations
{
    public static readonly string[] Names = ["relu", "sigmoid", "tanh", "gelu", "leaky_relu"];

    public static Module Create(string name) => name switch
    {
        "relu" => new ReLU(),
        "sigmoid" => new Sigmoid(),
        "tanh" => new Tanh(),
        "gelu" => new GELU(),
        "leaky_relu" => new LeakyReLU(),
        _ => throw new ConfigException("activation", $"unknown activation '{name}' (expected one of {string.Join(", ", Names)})"),
    };

    internal static void Validate(string? name)
    {
        if (name is null || Array.IndexOf(Names, name) < 0)
            throw new ConfigException("activation", $"unknown activation '{name}' (expected one of {string.Join(", ", Names)})");
    }
}

/// <summary>A network the config files describe: an MLP or a small CNN. Validated on construction.</summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "kind")]
[JsonDerivedType(typeof(ModelConfig), "mlp")]
[JsonDerivedType(typeof(ConvNetConfig), "cnn")]
public abstract record NetworkConfig
{
    /// <summary>Shape of one input sample (e.g. [784] or [1, 28, 28]).</summary>
    [JsonIgnore] public abstract int[] SampleShape { get; }
    [JsonIgnore] public abstract int Classes { get; }

    /// <summary>Builds the network with deterministic initialization from <paramref name="seed"/>.</summary>
    public abstract Module Build(int seed);

    public string ToJson() => JsonSerializer.Serialize(this, NnJsonContext.Default.NetworkConfig);

    /// <summary>Parses and validates a config; errors name the field.</summary>
    public static NetworkConfig FromJson(string json)
    {
        try
        {
            return JsonSerializer.Deserialize(json, NnJsonContext.Default.NetworkConfig)
                ?? throw new ConfigException("config", "is empty");
        }
        catch (JsonException e)
        {
            throw new ConfigException(e.Path ?? "config", e.Message);
        }
    }
}

/// <summary>
/// A multilayer perceptron: InputSize → HiddenLayers… → OutputSize with one activation between layers.
/// </summary>
/// <example><code>var mlp = new ModelConfig(784, [256, 128], 10, "relu").Build(seed: 1);</code></example>
public sealed record ModelConfig : NetworkConfig
{
    [JsonConstructor]
    public ModelConfig(int inputSize, int[] hiddenLayers, int outputSize, string activation = "relu", double dropout = 0)
    {
        if (inputSize < 1) throw new ConfigException("inputSize", $"must be ≥ 1, got {inputSize}");
        if (hiddenLayers is null) throw new ConfigException("hiddenLayers", "is missing");
        for (int i = 0; i < hiddenLayers.Length; i++)
            if (hiddenLayers[i] < 1) throw new ConfigException($"hiddenLayers[{i}]", $"must be ≥ 1, got {hiddenLayers[i]}");
        if (outputSize < 1) throw new ConfigException("outputSize", $"must be ≥ 1, got {outputSize}");
        Activations.Validate(activation);
        if (dropout is < 0 or >= 1) throw new ConfigException("dropout", $"must be in [0, 1), got {dropout}");
        InputSize = inputSize; HiddenLayers = hiddenLayers; OutputSize = outputSize; Activation = activation; Dropout = dropout;
    }

    public int InputSize { get; }
    public int[] HiddenLayers { get; }
    public int OutputSize { get; }
    public string Activation { get; }
    public double Dropout { get; }

    public override int[] SampleShape => [InputSize];
    public override int Classes => OutputSize;

    public override Module Build(int seed)
    {
        var layers = new List<Module>();
        int width = InputSize, i = 0;
        foreach (var h in HiddenLayers)
        {
            layers.Add(new Linear(width, h, seed: ForwardContext.DeriveSeed(seed, i++)));
            layers.Add(Activations.Create(Activation));
            if (Dropout > 0) layers.Add(new Dropout(Dropout));
            width = h;
        }
        layers.Add(new Linear(width, OutputSize, seed: ForwardContext.DeriveSeed(seed, i)));
        return new Sequential([.. layers]);
    }

    public bool Equals(ModelConfig? other) => other is not null && InputSize == other.InputSize && OutputSize == other.OutputSize
        && HiddenLayers.SequenceEqual(other.HiddenLayers) && Activation == other.Activation && Dropout == other.Dropout;

    public override int GetHashCode() => HashCode.Combine(InputSize, OutputSize, HiddenLayers.Length, Activation, Dropout);
}

/// <summary>One convolution block of a <see cref="ConvNetConfig"/>: conv → activation → optional max-pool.</summary>
public sealed record ConvLayerConfig(int Channels, int KernelSize = 3, int Padding = 1, int Pool = 2);

/// <summary>A small CNN: conv blocks, flatten, hidden dense layers, output layer. Input shape is (C, H, W).</summary>
public sealed record ConvNetConfig : NetworkConfig
{
    [JsonConstructor]
    public ConvNetConfig(int[] inputShape, ConvLayerConfig[] convLayers, int[] hiddenLayers, int outputSize, string activation = "relu")
    {
        if (inputShape is null || inputShape.Length != 3 || inputShape.Any(d => d < 1))
            throw new ConfigException("inputShape", $"must be three positive sizes (C, H, W), got [{string.Join(", ", inputShape ?? [])}]");
        if (convLayers is null || convLayers.Length == 0) throw new ConfigException("convLayers", "needs at least one layer");
        int c = inputShape[0], h = inputShape[1], w = inputShape[2];
        for (int i = 0; i < convLayers.Length; i++)
        {
            var l = convLayers[i];
            if (l.Channels < 1) throw new ConfigException($"convLayers[{i}].channels", $"must be ≥ 1, got {l.Channels}");
            if (l.KernelSize < 1) throw new ConfigException($"convLayers[{i}].kernelSize", $"must be ≥ 1, got {l.KernelSize}");
            if (l.Padding < 0) throw new ConfigException($"convLayers[{i}].padding", $"must be ≥ 0, got {l.Padding}");
            if (l.Pool < 1) throw new ConfigException($"convLayers[{i}].pool", $"must be ≥ 1 (1 = no pooling), got {l.Pool}");
            h = h + 2 * l.Padding - l.KernelSize + 1; w = w + 2 * l.Padding - l.KernelSize + 1;
            if (h < 1 || w < 1) throw new ConfigException($"convLayers[{i}]", $"the {l.KernelSize}×{l.KernelSize} kernel does not fit the {h + l.KernelSize - 1 - 2 * l.Padding}-pixel input");
            h /= l.Pool; w /= l.Pool;
            if (h < 1 || w < 1) throw new ConfigException($"convLayers[{i}].pool", $"pooling by {l.Pool} leaves no pixels");
            c = l.Channels;
        }
        if (hiddenLayers is null) throw new ConfigException("hiddenLayers", "is missing");
        for (int i = 0; i < hiddenLayers.Length; i++)
            if (hiddenLayers[i] < 1) throw new ConfigException($"hiddenLayers[{i}]", $"must be ≥ 1, got {hiddenLayers[i]}");
        if (outputSize < 1) throw new ConfigException("outputSize", $"must be ≥ 1, got {outputSize}");
        Activations.Validate(activation);
        InputShape = inputShape; ConvLayers = convLayers; HiddenLayers = hiddenLayers; OutputSize = outputSize; Activation = activation;
        FlattenedSize = c * h * w;
    }

    public int[] InputShape { get; }
    public ConvLayerConfig[] ConvLayers { get; }
    public int[] HiddenLayers { get; }
    public int OutputSize { get; }
    public string Activation { get; }
    [JsonIgnore] public int FlattenedSize { get; }

    public override int[] SampleShape => InputShape;
    public override int Classes => OutputSize;

    public override Module Build(int seed)
    {
        var layers = new List<Module>();
        int channels = InputShape[0], i = 0;
        foreach (var l in ConvLayers)
        {
            layers.Add(new Conv2d(channels, l.Channels, l.KernelSize, padding: l.Padding, seed: ForwardContext.DeriveSeed(seed, i++)));
            layers.Add(Activations.Create(Activation));
            if (l.Pool > 1) layers.Add(new MaxPool2d(l.Pool));
            channels = l.Channels;
        }
        layers.Add(new Flatten());
        int width = FlattenedSize;
        foreach (var h in HiddenLayers)
        {
            layers.Add(new Linear(width, h, seed: ForwardContext.DeriveSeed(seed, i++)));
            layers.Add(Activations.Create(Activation));
            width = h;
        }
        layers.Add(new Linear(width, OutputSize, seed: ForwardContext.DeriveSeed(seed, i)));
        return new Sequential([.. layers]);
    }

    public bool Equals(ConvNetConfig? other) => other is not null && InputShape.SequenceEqual(other.InputShape)
        && ConvLayers.SequenceEqual(other.ConvLayers) && HiddenLayers.SequenceEqual(other.HiddenLayers)
        && OutputSize == other.OutputSize && Activation == other.Activation;

    public override int GetHashCode() => HashCode.Combine(InputShape.Length, ConvLayers.Length, OutputSize, Activation);
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = true)]
[JsonSerializable(typeof(NetworkConfig))]
[JsonSerializable(typeof(TrainingConfig))]
internal sealed partial class NnJsonContext : JsonSerializerContext;
