namespace Tessera.Trees.Data;

/// <summary>Bad input data: the message names the row (1-based, counting data rows) and the column.</summary>
public sealed class TabularDataException(string message) : Exception(message);
