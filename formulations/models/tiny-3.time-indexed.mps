*SENSE:Minimize
NAME          time_indexed_tiny_3
ROWS
 N  total_completion_time
 E  assign_r0
 E  assign_r1
 E  assign_r2
 E  assign_r3
 L  memory_1
 L  memory_2
 L  memory_3
 L  twins_r1_r2
 L  twins_r2_r3
COLUMNS
    MARK      'MARKER'                 'INTORG'
    x_r0_0    assign_r0   1.000000000000e+00
    x_r0_0    memory_1   9.000000000000e+00
    x_r0_0    total_completion_time   1.000000000000e+00
    MARK      'MARKER'                 'INTEND'
    MARK      'MARKER'                 'INTORG'
    x_r0_1    assign_r0   1.000000000000e+00
    x_r0_1    memory_2   9.000000000000e+00
    x_r0_1    total_completion_time   2.000000000000e+00
    MARK      'MARKER'                 'INTEND'
    MARK      'MARKER'                 'INTORG'
    x_r0_2    assign_r0   1.000000000000e+00
    x_r0_2    memory_3   9.000000000000e+00
    x_r0_2    total_completion_time   3.000000000000e+00
    MARK      'MARKER'                 'INTEND'
    MARK      'MARKER'                 'INTORG'
    x_r1_0    assign_r1   1.000000000000e+00
    x_r1_0    memory_1   2.000000000000e+00
    x_r1_0    memory_2   3.000000000000e+00
    x_r1_0    memory_3   4.000000000000e+00
    x_r1_0    total_completion_time   3.000000000000e+00
    MARK      'MARKER'                 'INTEND'
    MARK      'MARKER'                 'INTORG'
    x_r1_1    assign_r1   1.000000000000e+00
    x_r1_1    memory_2   2.000000000000e+00
    x_r1_1    memory_3   3.000000000000e+00
    x_r1_1    twins_r1_r2   1.000000000000e+00
    x_r1_1    total_completion_time   4.000000000000e+00
    MARK      'MARKER'                 'INTEND'
    MARK      'MARKER'                 'INTORG'
    x_r1_2    assign_r1   1.000000000000e+00
    x_r1_2    memory_3   2.000000000000e+00
    x_r1_2    twins_r1_r2   2.000000000000e+00
    x_r1_2    total_completion_time   5.000000000000e+00
    MARK      'MARKER'                 'INTEND'
    MARK      'MARKER'                 'INTORG'
    x_r2_0    assign_r2   1.000000000000e+00
    x_r2_0    memory_1   2.000000000000e+00
    x_r2_0    memory_2   3.000000000000e+00
    x_r2_0    memory_3   4.000000000000e+00
    x_r2_0    total_completion_time   3.000000000000e+00
    MARK      'MARKER'                 'INTEND'
    MARK      'MARKER'                 'INTORG'
    x_r2_1    assign_r2   1.000000000000e+00
    x_r2_1    memory_2   2.000000000000e+00
    x_r2_1    memory_3   3.000000000000e+00
    x_r2_1    twins_r1_r2  -1.000000000000e+00
    x_r2_1    twins_r2_r3   1.000000000000e+00
    x_r2_1    total_completion_time   4.000000000000e+00
    MARK      'MARKER'                 'INTEND'
    MARK      'MARKER'                 'INTORG'
    x_r2_2    assign_r2   1.000000000000e+00
    x_r2_2    memory_3   2.000000000000e+00
    x_r2_2    twins_r1_r2  -2.000000000000e+00
    x_r2_2    twins_r2_r3   2.000000000000e+00
    x_r2_2    total_completion_time   5.000000000000e+00
    MARK      'MARKER'                 'INTEND'
    MARK      'MARKER'                 'INTORG'
    x_r3_0    assign_r3   1.000000000000e+00
    x_r3_0    memory_1   2.000000000000e+00
    x_r3_0    memory_2   3.000000000000e+00
    x_r3_0    memory_3   4.000000000000e+00
    x_r3_0    total_completion_time   3.000000000000e+00
    MARK      'MARKER'                 'INTEND'
    MARK      'MARKER'                 'INTORG'
    x_r3_1    assign_r3   1.000000000000e+00
    x_r3_1    memory_2   2.000000000000e+00
    x_r3_1    memory_3   3.000000000000e+00
    x_r3_1    twins_r2_r3  -1.000000000000e+00
    x_r3_1    total_completion_time   4.000000000000e+00
    MARK      'MARKER'                 'INTEND'
    MARK      'MARKER'                 'INTORG'
    x_r3_2    assign_r3   1.000000000000e+00
    x_r3_2    memory_3   2.000000000000e+00
    x_r3_2    twins_r2_r3  -2.000000000000e+00
    x_r3_2    total_completion_time   5.000000000000e+00
    MARK      'MARKER'                 'INTEND'
RHS
    RHS       assign_r0   1.000000000000e+00
    RHS       assign_r1   1.000000000000e+00
    RHS       assign_r2   1.000000000000e+00
    RHS       assign_r3   1.000000000000e+00
    RHS       memory_1   1.200000000000e+01
    RHS       memory_2   1.200000000000e+01
    RHS       memory_3   1.200000000000e+01
    RHS       twins_r1_r2   0.000000000000e+00
    RHS       twins_r2_r3   0.000000000000e+00
BOUNDS
 BV BND       x_r0_0  
 BV BND       x_r0_1  
 BV BND       x_r0_2  
 BV BND       x_r1_0  
 BV BND       x_r1_1  
 BV BND       x_r1_2  
 BV BND       x_r2_0  
 BV BND       x_r2_1  
 BV BND       x_r2_2  
 BV BND       x_r3_0  
 BV BND       x_r3_1  
 BV BND       x_r3_2  
ENDATA
