namespace Tessera.Nn;

/// <summary>
/// A tensor a module owns: trainable weights, or a buffer such as BatchNorm's running mean (not trainable but
/// saved in checkpoints). Solvers update <see cref="Value"/> in place, so every graph that bound it sees the update.
/// </summary>
public sealed class Parameter(string name, Tensor value, bool trainable = true)
{
    public string Name { get; } = name;
    public Tensor Value { get; } = value;
    public bool Trainable { get; } = trainable;

    /// <summary>Overwrites the value in place (shape and dtype must match), keeping graph bindings valid.</summary>
    public void Load(Tensor source)
    {
        if (!source.Shape.SequenceEqual(Value.Shape) || source.DType != Value.DType)
            throw new ShapeMismatchException("Parameter.Load", $"{Name} is {Value.DType.Name()} {Value.ShapeString}, the loaded value is {source.DType.Name()} {source.ShapeString}");
        source.CopyTo(Value);
    }

    public override string ToString() => $"{Name} {Value.DType.Name()} {Value.ShapeString}";
}
