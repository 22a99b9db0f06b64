*SENSE:Minimize
NAME          time_indexed_tiny_4
ROWS
 N  total_completion_time
 E  assign_r0
 E  assign_r1
 E  assign_r2
 E  assign_r3
 L  memory_2
 L  memory_3
COLUMNS
    MARK      'MARKER'                 'INTORG'
    x_r0_0    assign_r0   1.000000000000e+00
    x_r0_0    memory_2   6.000000000000e+00
    x_r0_0    total_completion_time   2.000000000000e+00
    MARK      'MARKER'                 'INTEND'
    MARK      'MARKER'                 'INTORG'
    x_r0_1    assign_r0   1.000000000000e+00
    x_r0_1    memory_2   5.000000000000e+00
    x_r0_1    memory_3   6.000000000000e+00
    x_r0_1    total_completion_time   3.000000000000e+00
    MARK      'MARKER'                 'INTEND'
    MARK      'MARKER'                 'INTORG'
    x_r1_0    assign_r1   1.000000000000e+00
    x_r1_0    memory_2   2.000000000000e+00
    x_r1_0    memory_3   3.000000000000e+00
    x_r1_0    total_completion_time   3.000000000000e+00
    MARK      'MARKER'                 'INTEND'
    MARK      'MARKER'                 'INTORG'
    x_r1_1    assign_r1   1.000000000000e+00
    x_r1_1    memory_2   1.000000000000e+00
    x_r1_1    memory_3   2.000000000000e+00
    x_r1_1    total_completion_time   4.000000000000e+00
    MARK      'MARKER'                 'INTEND'
    MARK      'MARKER'                 'INTORG'
    x_r2_1    assign_r2   1.000000000000e+00
    x_r2_1    memory_2   3.000000000000e+00
    x_r2_1    memory_3   4.000000000000e+00
    x_r2_1    total_completion_time   2.000000000000e+00
    MARK      'MARKER'                 'INTEND'
    MARK      'MARKER'                 'INTORG'
    x_r2_2    assign_r2   1.000000000000e+00
    x_r2_2    memory_3   3.000000000000e+00
    x_r2_2    total_completion_time   3.000000000000e+00
    MARK      'MARKER'                 'INTEND'
    MARK      'MARKER'                 'INTORG'
    x_r3_3    assign_r3   1.000000000000e+00
    x_r3_3    total_completion_time   4.000000000000e+00
    MARK      'MARKER'                 'INTEND'
    MARK      'MARKER'                 'INTORG'
    x_r3_4    assign_r3   1.000000000000e+00
    x_r3_4    total_completion_time   5.000000000000e+00
    MARK      'MARKER'                 'INTEND'
RHS
    RHS       assign_r0   1.000000000000e+00
    RHS       assign_r1   1.000000000000e+00
    RHS       assign_r2   1.000000000000e+00
    RHS       assign_r3   1.000000000000e+00
    RHS       memory_2   9.000000000000e+00
    RHS       memory_3   9.000000000000e+00
BOUNDS
 BV BND       x_r0_0  
 BV BND       x_r0_1  
 BV BND       x_r1_0  
 BV BND       x_r1_1  
 BV BND       x_r2_1  
 BV BND       x_r2_2  
 BV BND       x_r3_3  
 BV BND       x_r3_4  
ENDATA
